"""Mono's transaction category, normalised to one lowercase snake_case vocabulary.

Mono's categories come in several spellings across API generations (``bank_charges``, legacy
``E-CHANNELS``, and null or ``unknown`` when the bank data was never categorised). The canonical
``category`` is the snake_case form of whatever Mono sent; the raw value stays in ``provider_category``.
"""

from __future__ import annotations

import pandas as pd

from mono_dagster.transform.parsing import normalise_distinct

UNCATEGORISED = "uncategorised"
_NO_CATEGORY = frozenset({"", "unknown", "null", "none", "uncategorised", "uncategorized"})


def normalise_categories(provider_categories: pd.Series) -> pd.Series:
    """``"E-CHANNELS"`` → ``"e_channels"``, ``"onlineTransactions"`` → ``"online_transactions"``.

    Runs of anything but ASCII letters and digits become one underscore; a missing or meaningless
    category (null, ``""``, ``"unknown"``) becomes ``"uncategorised"``. ``provider_categories`` holds
    str or None.
    """
    normalised = normalise_distinct(provider_categories, _snake_case)
    return normalised.where(normalised.notna(), UNCATEGORISED).astype(object)


def _snake_case(categories: pd.Series) -> pd.Series:
    snake = (
        categories.str.replace(r"(?<=[a-z0-9])(?=[A-Z])", "_", regex=True)
        .str.lower()
        .str.replace(r"[^a-z0-9]+", "_", regex=True)
        .str.strip("_")
    )
    return snake.where(~snake.isin(_NO_CATEGORY), UNCATEGORISED)
