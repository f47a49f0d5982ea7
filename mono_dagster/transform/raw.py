"""The raw frame: one row per Mono transaction object, exactly as Mono sent it, plus lineage.

`build_raw_frame_from_pages` (and `build_raw_frame`, its form for grouped records) is the only place that
reads Mono's JSON objects; everything after it works on columns.
It must not clean or coerce anything: a bad value has to reach the quarantine unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby, repeat
from typing import Any

import numpy as np
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
    pages = groupby(records, key=lambda record: (record[0], record[1]))
    return build_raw_frame_from_pages(
        (account_id, page_id, [obj for _, _, obj in group]) for (account_id, page_id), group in pages
    )


def build_raw_frame_from_pages(pages: Iterable[tuple[str, int, Sequence[Any]]]) -> pd.DataFrame:
    """`build_raw_frame` from ``(account_id, raw_page_id, mono_objects)`` pages, column by column.

    Each page's objects are read into the columns and then let go, so a caller that parses pages
    lazily never holds more than one page of parsed objects beside the columns.
    """
    account_ids: list[str] = []
    page_ids: list[int] = []
    fields: dict[str, list[Any]] = {field: [] for field in RAW_TRANSACTION_FIELDS}
    for account_id, page_id, objects in pages:
        plain = all(type(obj) is dict for obj in objects)  # what JSON gives: once per page, not per field
        mappings = list(objects) if plain else [obj if isinstance(obj, Mapping) else _EMPTY for obj in objects]
        account_ids.extend(repeat(account_id, len(mappings)))
        page_ids.extend(repeat(page_id, len(mappings)))
        for field, values in fields.items():
            values.extend(_field_values(mappings, field, plain=plain))
    columns: dict[str, Any] = {
        "account_id": _object_series(account_ids),
        "raw_page_id": pd.Series(page_ids, dtype="int64"),
    }
    for field, values in fields.items():
        columns[field] = _object_series(values)
    return pd.DataFrame(columns, columns=list(RAW_FRAME_COLUMNS))


def _field_values(objects: list[Mapping[str, Any]], field: str, *, plain: bool) -> list[Any]:
    """One field of every object (None when absent); ``id`` falls back to the legacy ``_id``.

    `plain`: every object is a dict, so the faster `dict.get` reads them."""
    if plain:
        values = list(map(dict.get, objects, repeat(field)))
    else:
        values = [obj.get(field) for obj in objects]
    if field == "id":
        for position in [position for position, value in enumerate(values) if value is None]:
            values[position] = objects[position].get("_id")
    return values


def _object_series(values: list[Any]) -> pd.Series:
    # Filled by slice assignment so that list or dict values stay single objects, never sub-arrays.
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return pd.Series(array, dtype=object, copy=False)


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
