"""Currencies and amounts: which ISO 4217 codes we accept and how minor units become decimals.

Mono sends amounts as integers in the currency's minor unit (kobo for NGN). The table below is the whole
list of currencies the pipeline accepts; a code outside it is quarantined rather than guessed at, because
a wrong exponent would misstate an amount a hundredfold. Add a code here (with its ISO 4217 exponent) to
accept it.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

DEFAULT_CURRENCY = "NGN"  # used when neither the transaction nor the account names one

MINOR_UNIT_EXPONENTS: dict[str, int] = {
    "NGN": 2,  # kobo
    "GHS": 2,  # pesewa
    "KES": 2,  # cents
    "ZAR": 2,  # cents
    "USD": 2,
    "GBP": 2,
    "EUR": 2,
}

# Amounts must stay exact as float64 on the way in (Mono's JSON numbers): 2**53 - 1 kobo is ~90 trillion
# naira.
MAX_SAFE_INTEGER = 2**53 - 1


def to_decimals(minor: np.ndarray, exponents: np.ndarray) -> np.ndarray:
    """Exact major-unit ``Decimal`` amounts (``50000``, 2 → ``Decimal("500.00")``), as an object array.

    A Decimal is a Python object, so one is made per row; ``map`` over the C-implemented constructor and
    ``scaleb`` keeps that free of Python bytecode per row. ``scaleb`` keeps the exponent, so NGN amounts
    always carry two places, as the NUMERIC column stores them.
    """
    decimals = map(Decimal.scaleb, map(Decimal, minor.tolist()), (-exponents).tolist())
    out = np.empty(len(minor), dtype=object)
    out[:] = list(decimals)
    return out
