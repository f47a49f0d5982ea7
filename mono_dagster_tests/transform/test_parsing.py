"""Field parsers: text, integers and the factorize that pandas' NUL blind spot cannot fool."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from mono_dagster.transform.dates import parse_timestamps
from mono_dagster.transform.parsing import as_text, factorize, parse_integers


@given(st.lists(st.one_of(st.none(), st.text(alphabet="ab\x00", max_size=3)), max_size=12))
def test_factorize_gives_equal_codes_exactly_to_equal_values(values):
    codes, uniques = factorize(pd.Series(values, dtype=object))
    for value, code in zip(values, codes, strict=True):
        if value is None:
            assert code == -1
        else:
            assert uniques[code] == value
    present = [v for v in values if v is not None]
    assert len(uniques) == len(set(present))


def test_as_text_turns_null_and_blank_into_none():
    text = as_text(pd.Series([None, float("nan"), "", "  \t", "x", 5, " y "], dtype=object))
    assert text.tolist() == [None, None, None, None, "x", "5", " y "]


def test_parse_integers_accepts_integral_values_in_any_json_spelling():
    ints, ok = parse_integers(pd.Series([500, "500", 500.0, " 7 ", "-3"], dtype=object))
    assert ok.all()
    assert ints.tolist() == [500, 500, 500, 7, -3]


def test_parse_integers_rejects_fractions_bools_and_huge_values():
    values = pd.Series([0.5, True, "1e400", float("nan"), 2**53, "abc", [1]], dtype=object)
    ints, ok = parse_integers(values)
    assert not ok.any()
    assert (ints == 0).all()


def test_parse_integers_keeps_an_int64_column_exact():
    ints, ok = parse_integers(pd.Series(np.array([1, 2**53 - 1], dtype=np.int64)))
    assert ok.all() and ints.tolist() == [1, 2**53 - 1]


mono_shaped = st.tuples(
    st.integers(1900, 2199),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 24),
    st.integers(0, 60),
    st.integers(0, 60),
    st.one_of(st.just(""), st.text(alphabet="0123456789", min_size=1, max_size=9).map(lambda f: "." + f)),
).map(lambda p: f"{p[0]:04d}-{p[1]:02d}-{p[2]:02d}T{p[3]:02d}:{p[4]:02d}:{p[5]:02d}{p[6]}Z")


@given(st.lists(mono_shaped, min_size=1, max_size=20))
def test_fast_date_path_agrees_with_pandas_iso_parser(texts):
    ours = parse_timestamps(pd.Series(texts, dtype=object))
    pandas = pd.to_datetime(pd.Series(texts, dtype=object), utc=True, errors="coerce", format="ISO8601")
    pd.testing.assert_series_equal(ours, pandas.astype("datetime64[ns, UTC]"), check_names=False)


def test_dates_parse_with_and_without_fractions_and_offsets():
    parsed = parse_timestamps(
        pd.Series(
            [
                "2023-12-14T00:02:00.500Z",
                "2023-12-14T00:02:00Z",
                "2024-02-29T23:59:59.123456789Z",
                "2023-12-14T01:00:00+01:00",
                "2023-12-14",
            ],
            dtype=object,
        )
    )
    assert parsed.tolist() == [
        pd.Timestamp("2023-12-14T00:02:00.500", tz="UTC"),
        pd.Timestamp("2023-12-14T00:02:00", tz="UTC"),
        pd.Timestamp("2024-02-29T23:59:59.123456789", tz="UTC"),
        pd.Timestamp("2023-12-14T00:00:00", tz="UTC"),
        pd.Timestamp("2023-12-14T00:00:00", tz="UTC"),
    ]
