"""PII masking: account numbers, BVNs and phone numbers never leave the transform in full.

An account's own number is shown as ``******`` plus its last four digits. Free text that may carry
someone's number (a narration, a raw Mono object, a sample of a bad value) has every run of ten or more
ASCII digits cut to the same shape. This module only masks; it decides nothing about which columns need it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MASK = "******"
MIN_DIGIT_RUN = 10  # NUBAN account numbers are 10 digits, BVNs and phone numbers 11
VISIBLE_DIGITS = 4

_SEPARATOR = "\x00"
_STAR = ord("*")
_DIGIT_RUN_PATTERN = rf"[0-9]{{{MIN_DIGIT_RUN - VISIBLE_DIGITS},}}([0-9]{{{VISIBLE_DIGITS}}})"


def mask_account_numbers(numbers: pd.Series) -> pd.Series:
    """``******`` plus the last four digits of each number; nulls and short numbers show what there is.

    Non-digits are dropped first, so ``"0123-456-789"`` and ``"0123456789"`` mask alike. Account numbers
    should arrive as text: an int has lost its leading zeros, which only matters if it is under 4 digits.
    """
    digits = numbers.astype(str).where(numbers.notna(), "").str.replace(r"[^0-9]", "", regex=True)
    return (MASK + digits.str[-VISIBLE_DIGITS:]).astype(object)


def mask_digit_runs(texts: pd.Series) -> pd.Series:
    """Each run of 10+ ASCII digits in each string becomes ``******`` plus its last four digits.

    ``texts`` must hold str only. A per-row regex costs about 2 µs a row (~180 ms a 90k batch), so the
    rows are joined into one UTF-8 buffer and the runs are found with numpy (~20 ms); digits are single
    bytes in UTF-8, so byte positions are safe to edit.
    """
    values = texts.tolist()
    if not values:
        return texts.astype(object)
    joined = _SEPARATOR.join(values)
    if joined.count(_SEPARATOR) != len(values) - 1:
        # A string holds the separator itself: fall back to the slower regex, which is still correct.
        return texts.str.replace(_DIGIT_RUN_PATTERN, MASK + r"\1", regex=True).astype(object)
    buffer = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    is_digit = np.zeros(len(buffer) + 2, dtype=bool)
    is_digit[1:-1] = (buffer >= ord("0")) & (buffer <= ord("9"))
    edges = np.flatnonzero(is_digit[1:] != is_digit[:-1])
    starts, ends = edges[0::2], edges[1::2]
    long_runs = (ends - starts) >= MIN_DIGIT_RUN
    if not long_runs.any():
        return pd.Series(values, index=texts.index, dtype=object)
    starts, ends = starts[long_runs], ends[long_runs]
    shown_from = ends - VISIBLE_DIGITS
    starred_from = shown_from - len(MASK)
    # Runs are disjoint, so +1/-1 markers summed cumulatively flag every byte inside a span.
    dropped = _inside(len(buffer), starts, starred_from)
    starred = _inside(len(buffer), starred_from, shown_from)
    masked = buffer.copy()
    masked[starred] = _STAR
    text = masked[~dropped].tobytes().decode("utf-8", "surrogatepass")
    return pd.Series(text.split(_SEPARATOR), index=texts.index, dtype=object)


def mask_digit_runs_or_none(texts: pd.Series) -> pd.Series:
    """`mask_digit_runs` for a Series of str or None; None stays None."""
    present = texts.notna().to_numpy()
    if present.all():
        return mask_digit_runs(texts)
    out = texts.to_numpy(dtype=object, copy=True)
    out[present] = mask_digit_runs(texts[present]).to_numpy(dtype=object)
    return pd.Series(out, index=texts.index, dtype=object)


def masked_samples(values: pd.Series, limit: int = 40) -> pd.Series:
    """A short, masked, quoted rendering of each value for a quarantine reason: ``'-500'``."""
    text = mask_digit_runs(values.astype(str))
    long = text.str.len() > limit
    text = text.where(~long, text.str.slice(0, limit) + "…")
    return ("'" + text + "'").astype(object)


def _inside(size: int, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    # Spans are disjoint, so ``starts`` (and ``stops``) hold no repeated index and fancy += is exact.
    markers = np.zeros(size + 1, dtype=np.int8)
    markers[starts] += 1
    markers[stops] -= 1
    return np.cumsum(markers[:-1], dtype=np.int8) > 0
