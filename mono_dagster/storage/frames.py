"""Conversions between the transform's canonical frame and plain Python values for the database.

Drivers know Python `int`, `Decimal`, `date` and aware `datetime`; they do not know numpy scalars,
`pd.NA` or `NaT`. The canonical dtypes are the transform's contract (see `records.CANONICAL_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from mono_dagster.records import CANONICAL_COLUMNS

INT64_COLUMNS = frozenset({"amount_minor", "signed_amount_minor", "raw_page_id"})
NULLABLE_INT64_COLUMNS = frozenset({"balance_after_minor"})
TIMESTAMP_COLUMNS = frozenset({"posted_at"})
DATE_COLUMNS = frozenset({"posted_date", "posted_date_lagos"})


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s) {', '.join(missing)}")


def column_values(series: pd.Series) -> list[Any]:
    """The series as driver-ready Python values; every missing value becomes None."""
    if _is_datetime(series):
        utc = series.dt.tz_convert(UTC) if isinstance(series.dtype, pd.DatetimeTZDtype) else series.dt.tz_localize(UTC)
        naive = utc.dt.tz_localize(None).to_numpy(dtype="datetime64[us]").tolist()  # NaT -> None
        return [None if value is None else value.replace(tzinfo=UTC) for value in naive]
    if pd.api.types.is_integer_dtype(series.dtype) and not isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
        return series.tolist()  # numpy int64 -> Python int
    return series.astype(object).where(series.notna(), None).tolist()


def date_values(series: pd.Series) -> list[date | None]:
    """Calendar dates; tolerates datetimes where the contract says `datetime.date` objects."""
    if _is_datetime(series):
        # The date as written in the series' own timezone, not converted to UTC first.
        return series.dt.date.astype(object).where(series.notna(), None).tolist()
    values = column_values(series)
    if any(isinstance(value, datetime) for value in values):
        return [value.date() if isinstance(value, datetime) else value for value in values]
    return values


def _is_datetime(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series.dtype)


def canonical_values(frame: pd.DataFrame) -> list[list[Any]]:
    """One list of Python values per canonical column, in `CANONICAL_COLUMNS` order."""
    require_columns(frame, CANONICAL_COLUMNS, "canonical")
    return [
        date_values(frame[column]) if column in DATE_COLUMNS else column_values(frame[column])
        for column in CANONICAL_COLUMNS
    ]


def canonical_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Rows of the canonical columns, in order, as a frame with the transform's dtypes."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in CANONICAL_COLUMNS]
    data: dict[str, pd.Series] = {}
    for name, values in zip(CANONICAL_COLUMNS, columns, strict=True):
        if name in TIMESTAMP_COLUMNS:
            series = pd.Series(pd.to_datetime(list(values), utc=True), dtype="datetime64[ns, UTC]")
        elif name in INT64_COLUMNS:
            series = pd.Series(list(values), dtype="int64")
        elif name in NULLABLE_INT64_COLUMNS:
            series = pd.Series(list(values), dtype="Int64")
        else:
            series = pd.Series(list(values), dtype=object)
        data[name] = series
    return pd.DataFrame(data, columns=list(CANONICAL_COLUMNS))
