"""PII masking: account numbers, BVNs and phone numbers never leave the transform in full."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mono_dagster.transform.masking import mask_account_numbers, mask_digit_runs
from mono_dagster_tests.transform.builders import (
    ACCOUNT_NUMBER,
    OTHER_ACCOUNT_NUMBER,
    accounts_frame,
    canonicalise,
    v2_transaction,
)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("0123456789", "******6789"),
        ("0123-456-789", "******6789"),
        ("789", "******789"),
        ("", "******"),
        (None, "******"),
        (123456789, "******6789"),
    ],
)
def test_account_number_shows_at_most_its_last_four_digits(number, masked):
    assert mask_account_numbers(pd.Series([number], dtype=object)).iloc[0] == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("TRF FROM 0123456789 ADEBAYO", "TRF FROM ******6789 ADEBAYO"),
        ("BVN22212345678", "BVN******5678"),
        ("123456789", "123456789"),  # nine digits: not an account number
        ("NIP/000013231004123456789012345678", "NIP/******5678"),
        ("a 0123456789 b 9876543210", "a ******6789 b ******3210"),
        ("Ọmọ 0123456789 ✓", "Ọmọ ******6789 ✓"),
        ("nul\x00 0123456789", "nul\x00 ******6789"),  # the separator itself: the regex fallback
        ("", ""),
    ],
)
def test_long_digit_runs_are_cut_to_their_last_four(text, masked):
    assert mask_digit_runs(pd.Series([text], dtype=object)).iloc[0] == masked


@given(st.lists(st.text(alphabet=st.sampled_from("0123456789 aZ/\x00é"), max_size=40), max_size=10))
def test_masking_leaves_no_run_of_ten_digits_and_keeps_everything_else(texts):
    masked = mask_digit_runs(pd.Series(texts, dtype=object)).tolist()
    expected = pd.Series(texts, dtype=object).str.replace(r"[0-9]{6,}([0-9]{4})", r"******\1", regex=True).tolist()
    assert masked == expected
    assert not any(pd.Series(masked, dtype=object).str.contains(r"[0-9]{10}"))


def test_no_full_account_number_appears_in_any_output_column():
    objects = [
        v2_transaction(id="ok", narration=f"TRF FROM {ACCOUNT_NUMBER} TO {OTHER_ACCOUNT_NUMBER}"),
        v2_transaction(id="bad", amount=-1, narration=f"REVERSAL {ACCOUNT_NUMBER}", type=f"X{OTHER_ACCOUNT_NUMBER}"),
    ]
    batch = canonicalise(*objects, accounts=accounts_frame())
    for frame in (batch.valid, batch.quarantined):
        assert not frame.empty
        for column in frame.columns:
            text = " ".join(frame[column].astype(str))
            assert ACCOUNT_NUMBER not in text, column
            assert OTHER_ACCOUNT_NUMBER not in text, column
