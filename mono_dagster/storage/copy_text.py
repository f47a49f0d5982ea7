"""A canonical frame as Postgres COPY text, built a column at a time.

psycopg's ``Copy.write_row`` formats each value in Python (about 5 µs a row for the 23 stage columns,
0.45 s a 90k batch); formatting whole columns with numpy/pandas and joining rows in C costs a fraction.
The output is COPY's default text format: tab-separated, one line per row, ``\\N`` for null, and
backslash, tab, newline and carriage return escaped, so any text survives unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from mono_dagster.storage.frames import DATE_COLUMNS, date_values

NULL = "\\N"
_SPECIALS = ("\\", "\t", "\n", "\r")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
ROWS_PER_CHUNK = 10_000  # bounds the text held at once (~2 MB a chunk) whatever the batch size

# (row slice, escape?) -> that slice of one column as COPY text
ColumnSource = Callable[[slice, bool], list[str]]


def escape(value: str) -> str:
    """One text value as COPY text (backslash first, so nothing is escaped twice)."""
    return value.translate(_ESCAPES) if any(special in value for special in _SPECIALS) else value


def copy_chunks(frame: pd.DataFrame, columns: Sequence[str], leading: Sequence[str] = ()) -> Iterator[bytes]:
    """The frame's ``columns`` as UTF-8 COPY data, ``ROWS_PER_CHUNK`` rows per chunk.

    ``leading`` values (already COPY text) start every row. Formatting a slice at a time lets Postgres
    parse one chunk while Python formats the next, and holds one slice of text, not the batch's.
    Slices are taken from plain numpy arrays: pandas slices of the frame sit in reference cycles that
    would keep the whole batch alive until the next full garbage collection.
    """
    nulls = [frame[name].isna().to_numpy() for name in columns]
    sources = [_column_source(name, frame[name], null) for name, null in zip(columns, nulls, strict=True)]
    fields = len(leading) + len(sources)
    for start in range(0, len(frame), ROWS_PER_CHUNK):
        rows = slice(start, min(start + ROWS_PER_CHUNK, len(frame)))
        count = rows.stop - rows.start
        data = _chunk(sources, leading, rows, count, escaped=False)
        # Text rarely holds a special character, so a chunk is first built unescaped; if its tabs and
        # newlines are exactly the separators, its backslashes exactly the null markers and it has no
        # CR, no value needed escaping. Otherwise it is rebuilt with every text value escaped.
        markers = sum(int(null[rows].sum()) for null in nulls) + sum(value.count("\\") for value in leading) * count
        if not _only_separators(data, count, fields, markers):
            data = _chunk(sources, leading, rows, count, escaped=True)
        yield data.encode("utf-8")


def _chunk(sources: Sequence[ColumnSource], leading: Sequence[str], rows: slice, count: int, *, escaped: bool) -> str:
    texts = [source(rows, escaped) for source in sources]
    lines = map("\t".join, zip(*[[value] * count for value in leading], *texts, strict=True))
    return "\n".join(lines) + "\n"


def _only_separators(data: str, rows: int, fields: int, backslashes: int) -> bool:
    return (
        data.count("\t") == rows * (fields - 1)
        and data.count("\n") == rows
        and data.count("\\") == backslashes
        and "\r" not in data
    )


def _column_source(name: str, series: pd.Series, null: np.ndarray) -> ColumnSource:
    """A function from a row slice to that slice's COPY text: the same values the driver would send."""
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series.dtype):
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        # Microseconds, truncated like the driver's datetime conversion: what Postgres stores.
        stamps = series.to_numpy(dtype="datetime64[us]")
        return lambda rows, _: _timestamp_text(stamps[rows], null[rows])
    if pd.api.types.is_integer_dtype(series.dtype):  # int64 and nullable Int64
        ints = series.to_numpy(dtype=np.int64, na_value=0)
        return lambda rows, _: _integer_text(ints[rows], null[rows])
    if name in DATE_COLUMNS:
        return _distinct_source(series)
    values = series.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values[~null], skipna=False) != "string":  # Decimals, numbers: their str()
        return lambda rows, escaped: _object_text(values[rows], null[rows], escaped)
    return lambda rows, escaped: _text(values[rows], null[rows], escaped)


def _distinct_source(series: pd.Series) -> ColumnSource:
    """Columns with few distinct values (dates): each distinct value is formatted once."""
    codes, distinct = pd.factorize(series, use_na_sentinel=True)
    as_text = [str(value) for value in date_values(pd.Series(distinct))]
    texts = np.array([*map(escape, as_text), NULL], dtype=object)  # code -1 (null) takes the last entry
    return lambda rows, _: texts[codes[rows]].tolist()


def _timestamp_text(stamps: np.ndarray, null: np.ndarray) -> list[str]:
    iso = np.datetime_as_string(stamps, unit="us").astype(object) + "Z"
    iso[null] = NULL
    return iso.tolist()


def _integer_text(ints: np.ndarray, null: np.ndarray) -> list[str]:
    text = np.array(list(map(str, ints.tolist())), dtype=object)
    text[null] = NULL
    return text.tolist()


def _object_text(values: np.ndarray, null: np.ndarray, escaped: bool) -> list[str]:
    """Values of any type as COPY text: ``str()`` of each."""
    return _text(np.array(list(map(str, values)), dtype=object), null, escaped)


def _text(values: np.ndarray, null: np.ndarray, escaped: bool) -> list[str]:
    if not null.any():
        return list(map(escape, values)) if escaped else values.tolist()
    text = np.full(len(values), NULL, dtype=object)  # the marker is never escaped
    present = values[~null]
    text[~null] = np.array(list(map(escape, present)), dtype=object) if escaped else present
    return text.tolist()
