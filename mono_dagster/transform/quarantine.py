"""Quarantine rows: what is wrong with a Mono object, and the object itself with PII masked.

A quarantined row is kept, never dropped: the reason says which field failed, how, and shows a masked
sample of the value, so an operator can act without opening the raw page; ``raw_record`` is the object
as compact JSON for the cases where they must.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pandas as pd

from mono_dagster.records import QUARANTINE_COLUMNS, RAW_TRANSACTION_FIELDS
from mono_dagster.transform.masking import mask_digit_runs, masked_samples
from mono_dagster.transform.parsing import storable_text
from mono_dagster.transform.rules import Failure

REASON_SEPARATOR = "; "


def quarantine_frame(
    rows: pd.DataFrame,
    failures: Sequence[Failure],
    failed: np.ndarray,
    account_id: pd.Series,
    provider_transaction_id: pd.Series,
    raw_page_id: pd.Series,
) -> pd.DataFrame:
    """The `records.QUARANTINE_COLUMNS` frame of the ``failed`` rows of a batch."""
    positions = np.flatnonzero(failed)
    reasons = pd.Series(build_reasons(failures, len(failed))[positions], dtype=object)

    def storable(values: pd.Series) -> np.ndarray:
        return storable_text(values).to_numpy(dtype=object)

    frame = pd.DataFrame(
        {
            "account_id": storable(account_id.iloc[positions]),
            "provider_transaction_id": storable(provider_transaction_id.iloc[positions]),
            "reason": storable(reasons),
            "raw_record": raw_records(rows.iloc[positions]),
            "raw_page_id": raw_page_id.to_numpy(dtype=np.int64)[positions],
        },
        columns=list(QUARANTINE_COLUMNS),
    )
    return frame.astype({"raw_page_id": "int64"})


def build_reasons(failures: Sequence[Failure], size: int) -> np.ndarray:
    """Per row, every failing rule's ``"<field>: <problem> ('<sample>')"`` joined by ``"; "``."""
    reasons = np.full(size, "", dtype=object)
    for failure in failures:
        positions = np.flatnonzero(failure.rows)
        if not len(positions):
            continue
        text = np.full(len(positions), f"{failure.field}: {failure.problem}", dtype=object)
        if failure.values is not None:
            text = text + " (" + masked_samples(failure.values.iloc[positions]).to_numpy(dtype=object) + ")"
        current = reasons[positions]
        reasons[positions] = np.where(current == "", text, current + REASON_SEPARATOR + text)
    return reasons


def raw_records(rows: pd.DataFrame) -> np.ndarray:
    """Each row's Mono fields as compact JSON (``{"id":...,"type":...}``), digit runs of 10+ masked.

    The object is rebuilt from the raw frame's Mono columns (in `records.RAW_TRANSACTION_FIELDS` order),
    so a field Mono left out shows as null and a legacy ``_id`` shows as ``id``. Values are masked before
    they are written, so the text stays valid JSON: a number whose JSON text holds 10+ digits (a balance
    of ₦100m in kobo, an account number sent as a number, 1.5e-9 written out) becomes the masked string
    ``"******0000"``. Anything that is not text, a number, a bool or null (a nested object) is written as
    its masked ``str``. pandas' JSON writer serialises all rows in C.
    """
    if rows.empty:
        return np.empty(0, dtype=object)
    fields = pd.DataFrame({name: _masked_values(rows[name]) for name in RAW_TRANSACTION_FIELDS})
    # pandas' writer escapes every "/" as "\\/"; undoing it is safe because it never writes a bare "/".
    lines = pd.Series(_json_lines(fields), dtype=object).str.replace("\\/", "/", regex=False)
    return lines.to_numpy(dtype=object)


# C0 controls the JSON writer would escape as \u00XX: those hex digits could glue onto data digits.
_ESCAPED_CONTROLS = r"[\x00-\x07\x0b\x0e-\x1f]"
_INTEGERS = [bool, int, np.int64, np.int32, np.uint64]
_FLOATS = [float, Decimal, np.float64, np.float32]


def _masked_values(column: pd.Series) -> np.ndarray:
    """The column's values, each one whose JSON text would hold a 10+ digit run replaced by masked text."""
    values = column.to_numpy(dtype=object, copy=True)
    kinds = pd.Series(values, dtype=object).map(type)
    null = pd.isna(values)
    is_str = kinds.eq(str).to_numpy()
    is_int = kinds.isin(_INTEGERS).to_numpy() & ~null
    is_float = kinds.isin(_FLOATS).to_numpy() & ~null
    other = ~(null | is_str | is_int | is_float)  # lists, dicts, anything else: written as masked text
    text = np.empty(len(values), dtype=object)
    as_text = is_str | other
    text[as_text] = (
        pd.Series(values[as_text], dtype=object).astype(str).str.replace(_ESCAPED_CONTROLS, "\ufffd", regex=True)
    ).to_numpy(dtype=object)
    text[is_int] = pd.Series(values[is_int], dtype=object).astype(str).to_numpy(dtype=object)
    if is_float.any():  # the writer's own digits: 1.5e-9 is written 0.0000000015
        try:
            written = pd.Series(values[is_float], dtype=float).to_json(orient="values", double_precision=15)
            text[is_float] = np.array(written[1:-1].split(","), dtype=object)
        except (ValueError, TypeError, OverflowError):  # e.g. a signalling-NaN Decimal: write it as text
            text[is_float] = pd.Series(values[is_float], dtype=object).astype(str).to_numpy(dtype=object)
            is_str |= is_float
    present = ~null
    masked = mask_digit_runs(pd.Series(text[present], dtype=object)).to_numpy(dtype=object)
    changed = np.zeros(len(values), dtype=bool)
    changed[present] = masked != text[present]
    replace = changed | as_text | is_str  # text always takes its cleaned form; numbers only when masked
    merged = text.copy()
    merged[present] = masked
    values[replace] = merged[replace]
    return values


def _json_lines(fields: pd.DataFrame) -> list[str]:
    attempts = (
        lambda: fields,
        # Lone surrogates (from a bad JSON escape) make the writer fail: replace them, keep other types.
        lambda: pd.DataFrame({name: storable_text(fields[name]) for name in fields.columns}),
        # Numbers beyond 64 bits make it fail too: then write every value as its text.
        lambda: pd.DataFrame(
            {name: storable_text(fields[name].astype(str).where(fields[name].notna(), None)) for name in fields}
        ),
    )
    for attempt in attempts:
        try:
            text = attempt().to_json(
                orient="records", lines=True, default_handler=str, force_ascii=False, double_precision=15
            )
        except (UnicodeEncodeError, OverflowError, ValueError):
            continue
        return text.rstrip("\n").split("\n")  # the writer escapes newlines inside strings
    raise AssertionError("the all-text attempt always serialises")  # pragma: no cover
