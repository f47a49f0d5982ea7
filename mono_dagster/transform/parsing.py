"""Vectorised parsers for Mono's loosely typed fields: text and integers in minor units (dates: `dates`).

Each parser takes a column exactly as Mono sent it (any mix of str, int, float, None, NaN, or worse) and
returns parsed values plus what could not be parsed; none of them raises on bad data, and none decides
what a failure means: that is `rules.py`'s job.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from mono_dagster.transform.money import MAX_SAFE_INTEGER

# infer_dtype kinds that pd.to_numeric can take directly; anything else (bools, Decimals, text) goes
# through str first, so True never becomes 1 and "500" becomes 500.
_NUMERIC_KINDS = frozenset({"integer", "floating", "mixed-integer-float", "empty"})


def as_text(values: pd.Series) -> pd.Series:
    """Each value as ``str``, or ``None`` where it is null or blank (only whitespace)."""
    text = values.astype(str).to_numpy(dtype=object, copy=True)
    text[values.isna().to_numpy() | _blank(text)] = None
    return pd.Series(text, index=values.index, dtype=object)


def is_missing(values: pd.Series) -> np.ndarray:
    """Where a value is null or blank text; numbers are never blank, so they skip the text pass."""
    missing = values.isna().to_numpy()
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in _NUMERIC_KINDS:
        missing |= as_text(values).isna().to_numpy()
    return missing


def storable_text(text: pd.Series) -> pd.Series:
    """Text Postgres can store: lone surrogates and NUL characters become U+FFFD; other values pass unchanged.

    ``json.loads`` turns a bad ``\\ud800`` escape into a lone surrogate, which UTF-8 cannot encode, and
    ``\\u0000`` into NUL, which Postgres text refuses. The rules quarantine a row whose stored text holds
    NUL; this is the guarantee for everything else written (quarantine keys and reasons). The usual
    batch has neither, and then this costs one join and one encode per column.
    """
    values = text.to_numpy(dtype=object)
    bad = ~is_utf8(values) | holds_nul(values)
    if not bad.any():
        return text
    fixed = values.copy()
    repaired = pd.Series(values[bad], dtype=object).str.encode("utf-8", "surrogatepass").str.decode("utf-8", "replace")
    fixed[bad] = repaired.str.replace("\x00", "\ufffd", regex=False).to_numpy(dtype=object)
    return pd.Series(fixed, index=text.index, dtype=object)


def holds_nul(values: np.ndarray | pd.Series) -> np.ndarray:
    """True for the str values holding a NUL character; one join and one search when none does."""
    array = np.asarray(values, dtype=object)
    found = np.zeros(len(array), dtype=bool)
    try:
        if "\x00" not in "".join(array):  # the usual case: all text, no NUL
            return found
    except TypeError:  # not all text: look at the strings only
        pass
    is_str = pd.Series(array, dtype=object).map(type).eq(str).to_numpy()
    strings = array[is_str]
    if len(strings) and "\x00" in "".join(strings):
        found[is_str] = pd.Series(strings, dtype=object).str.contains("\x00", regex=False).to_numpy(dtype=bool)
    return found


def is_utf8(values: np.ndarray) -> np.ndarray:
    """False only for str values that UTF-8 cannot encode (lone surrogates); one encode when none."""
    ok = np.ones(len(values), dtype=bool)
    try:
        "".join(values).encode("utf-8")  # the usual case: all text, all encodable
        return ok
    except (TypeError, UnicodeEncodeError):
        pass
    is_str = pd.Series(values, dtype=object).map(type).eq(str).to_numpy()
    strings = values[is_str]
    try:
        "".join(strings).encode("utf-8")
    except UnicodeEncodeError:
        ok[is_str] = _encode_each(strings)
    return ok


def _encode_each(strings: np.ndarray) -> np.ndarray:
    # Only reached when a batch holds a lone surrogate somewhere: find which strings, in C per string.
    encoded = pd.Series(strings, dtype=object).str.encode("utf-8", "surrogatepass")
    return encoded.str.decode("utf-8", "replace").eq(pd.Series(strings, dtype=object)).to_numpy()


def _blank(text: np.ndarray) -> np.ndarray:
    # Only a string that is empty or starts with whitespace can be blank: look at first characters
    # with numpy, and strip just those few.
    first = text.astype("U1")
    blank = (first == "") | np.strings.isspace(first)
    candidates = np.flatnonzero(blank)
    if len(candidates):
        blank[candidates] = pd.Series(text[candidates], dtype=object).str.strip().eq("").to_numpy()
    return blank


def factorize(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, uniques)`` like `pd.factorize` (nulls get -1), exact for text holding NUL characters.

    pandas' string hash table (used when every value is a str) stops reading at the first NUL, so
    ``"a\\x00b"`` and ``"a"`` would share a code. Garbage can hold NUL, so the result is checked against
    the input; on a mismatch the text is factorised again with NUL escaped injectively (``\\`` → ``\\\\``,
    NUL → ``\\0``), and the uniques are taken back from the first row of each code.
    Raises TypeError for unhashable values, as pandas does.
    """
    array = np.asarray(values, dtype=object)
    codes, uniques = pd.factorize(array, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    known = codes >= 0
    if bool((uniques[codes[known]] == array[known]).all()):
        return codes, uniques
    escaped = array.copy()
    is_str = pd.Series(array, dtype=object).map(type).eq(str).to_numpy()
    text = pd.Series(array[is_str], dtype=object)
    escaped[is_str] = text.str.replace("\\", "\\\\", regex=False).str.replace("\x00", "\\0", regex=False)
    codes, _ = pd.factorize(escaped, use_na_sentinel=True)
    _, first_rows = np.unique(codes[codes >= 0], return_index=True)  # codes count up in order of first sight
    return codes, array[np.flatnonzero(codes >= 0)[first_rows]]


def normalise_distinct(values: pd.Series, normalise: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """`as_text` then a vectorised ``normalise``, run over the distinct values only and spread back.

    Types and currencies have a handful of distinct values per batch, so this turns per-row string
    work into per-value work. Null and blank values give None.
    """
    try:
        codes, uniques = factorize(values)
    except TypeError:  # unhashable garbage (a list, a dict): factorize its text instead
        codes, uniques = factorize(values.astype(str).where(values.notna(), None))
    text = as_text(pd.Series(uniques, dtype=object))
    normalised = normalise(text).where(text.notna(), None).to_numpy(dtype=object)
    out = np.full(len(values), None, dtype=object)
    known = codes >= 0
    out[known] = normalised[codes[known]]
    return pd.Series(out, index=values.index, dtype=object)


def parse_integers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(ints, ok)``: int64 values and where a value is an integer within ±(2**53 - 1).

    Accepts ints, integral floats (``500.0``) and numeric strings (``"500"``); rejects fractions, bools,
    NaN/inf and non-numbers (``ok`` False, ``ints`` 0 there). Beyond 2**53 a float can no longer hold
    every integer, so larger values are rejected rather than silently rounded.
    """
    if pd.api.types.infer_dtype(values, skipna=True) in _NUMERIC_KINDS:
        numbers = pd.to_numeric(values, errors="coerce")
    else:
        numbers = pd.to_numeric(values.astype(str), errors="coerce")
    as_float = pd.Series(numbers).to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(as_float) & (np.abs(as_float) <= MAX_SAFE_INTEGER) & (as_float == np.floor(as_float))
    ints = np.where(ok, as_float, 0).astype(np.int64)
    return ints, ok
