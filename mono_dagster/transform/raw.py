"""The raw frame: one row per Mono transaction object, exactly as Mono sent it, plus lineage.

`build_raw_frame` is the only place that reads Mono's JSON objects; everything after it works on columns.
It must not clean or coerce anything: a bad value has to reach the quarantine unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from mono_dagster.records import RAW_TRANSACTION_FIELDS

RAW_FRAME_COLUMNS: tuple[str, ...] = ("account_id", "raw_page_id", *RAW_TRANSACTION_FIELDS)
ACCOUNT_COLUMNS: tuple[str, ...] = ("account_id", "account_number", "institution", "currency")

_EMPTY: Mapping[str, Any] = {}


class TransformInputError(ValueError):
    """A frame handed to the transform lacks columns or lineage it needs: a caller's bug, not bad data."""


def build_raw_frame(records: Iterable[tuple[str, int, Mapping[str, Any]]]) -> pd.DataFrame:
    """A raw frame from ``(account_id, raw_page_id, mono_object)`` tuples, one row per object.

    Mono fields keep their values and Python types (object columns, so ``500``, ``"500"`` and ``500.5``
    stay distinguishable); a missing field is None. The legacy shape's ``_id`` becomes ``id`` when ``id``
    is absent or null. Anything that is not a mapping is read as an empty object, so it is quarantined.
    """
    rows = list(records)
    objects = [obj if isinstance(obj, Mapping) else _EMPTY for _, _, obj in rows]
    columns: dict[str, Any] = {
        "account_id": pd.Series([account_id for account_id, _, _ in rows], dtype=object),
        "raw_page_id": pd.Series([page_id for _, page_id, _ in rows], dtype="int64"),
    }
    for field in RAW_TRANSACTION_FIELDS:
        values = [obj.get(field) for obj in objects]
        if field == "id":
            values = [obj.get("_id") if value is None else value for value, obj in zip(values, objects, strict=True)]
        columns[field] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns, columns=list(RAW_FRAME_COLUMNS))


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    """Raise `TransformInputError` naming the columns ``frame`` lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise TransformInputError(f"{name} frame lacks columns {missing}; it has {list(frame.columns)}")


def raw_page_ids(raw: pd.DataFrame) -> pd.Series:
    """The lineage column as int64; a null or non-integer id is a caller's bug, so it raises."""
    ids = pd.to_numeric(raw["raw_page_id"], errors="coerce")
    if ids.isna().any() or not (ids == ids.round()).all():
        raise TransformInputError("raw_page_id must be an integer on every row (it is our lineage, not Mono's data)")
    return ids.astype("int64")
