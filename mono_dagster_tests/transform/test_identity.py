"""transaction_id is the documented UUIDv5; content_hash changes exactly when Mono changes the row."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mono_dagster.transform import MONO_NAMESPACE
from mono_dagster.transform.identity import transaction_ids
from mono_dagster_tests.transform.builders import (
    ACCOUNT_ID,
    OTHER_ACCOUNT_ID,
    canonicalise,
    only_valid_row,
    v2_transaction,
)


def test_namespace_is_the_documented_constant():
    assert MONO_NAMESPACE == uuid.uuid5(uuid.NAMESPACE_URL, "https://taxpoynt.com/ns/bank-transactions/mono")
    assert str(MONO_NAMESPACE) == "6a37d6aa-feb1-570a-a26c-23be78188a9f"


def test_transaction_id_is_uuid5_of_account_and_mono_id():
    row = only_valid_row(v2_transaction(id="66141b98e8d4a6001c0f7b01"))
    expected = uuid.uuid5(MONO_NAMESPACE, f"mono:{ACCOUNT_ID}:66141b98e8d4a6001c0f7b01")
    assert row["transaction_id"] == str(expected)


@given(
    st.lists(st.tuples(st.text(max_size=30), st.text(max_size=40)), max_size=20),
)
def test_batch_uuid5_matches_the_standard_library(keys):
    accounts = pd.Series([account for account, _ in keys], dtype=object)
    ids = pd.Series([mono_id for _, mono_id in keys], dtype=object)
    expected = [str(uuid.uuid5(MONO_NAMESPACE, f"mono:{a}:{i}")) for a, i in keys]
    assert list(transaction_ids(accounts, ids)) == expected


def test_transaction_id_is_the_same_on_every_run():
    first = canonicalise(v2_transaction()).valid["transaction_id"].iloc[0]
    second = canonicalise(v2_transaction(narration="changed", amount=1)).valid["transaction_id"].iloc[0]
    assert first == second


def test_the_same_mono_id_in_two_accounts_gives_two_transaction_ids():
    a = only_valid_row(v2_transaction(id="same"), account_id=ACCOUNT_ID)
    b = only_valid_row(v2_transaction(id="same"), account_id=OTHER_ACCOUNT_ID)
    assert a["transaction_id"] != b["transaction_id"]


def test_content_hash_is_deterministic_across_runs_and_pages():
    first = only_valid_row(v2_transaction(), raw_page_id=1)["content_hash"]
    second = only_valid_row(v2_transaction(), raw_page_id=99)["content_hash"]
    assert first == second
    assert len(first) == 64


def test_content_hash_ignores_how_an_equal_value_was_spelled():
    # "500" and 500 are the same amount; "...00.000Z" and "...00Z" the same instant.
    a = only_valid_row(v2_transaction(amount=500, date="2023-12-14T00:02:00.000Z"))["content_hash"]
    b = only_valid_row(v2_transaction(amount="500", date="2023-12-14T00:02:00Z"))["content_hash"]
    assert a == b


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 50001},
        {"narration": "NIP/TRF FROM ADEBAYO OLUWASEUN/UBA"},
        {"narration": None},
        {"narration": ""},
        {"type": "debit"},
        {"balance": 150001},
        {"balance": None},
        {"date": "2023-12-14T00:02:00.501Z"},
        {"category": "bank_charges"},
        {"category": None},
        {"currency": "USD"},
        {"id": "66141b98e8d4a6001c0f7b02"},
    ],
)
def test_content_hash_changes_when_mono_changes_a_business_field(change):
    before = only_valid_row(v2_transaction())["content_hash"]
    after = only_valid_row(v2_transaction(**change))["content_hash"]
    assert before != after


def test_narration_with_the_account_number_hashes_the_unmasked_text():
    # The stored narration is masked, but the hash must still see a change in masked digits.
    a = only_valid_row(v2_transaction(narration="TRF 1111110000"))
    b = only_valid_row(v2_transaction(narration="TRF 2222220000"))
    assert a["narration"] == b["narration"] == "TRF ******0000"
    assert a["content_hash"] != b["content_hash"]


def test_content_hash_is_unambiguous_about_field_boundaries():
    # Without length prefixes these two rows would serialise identically.
    a = only_valid_row(v2_transaction(narration="a|3:b", category="c"))["content_hash"]
    b = only_valid_row(v2_transaction(narration="a", category="b|3:c"))["content_hash"]
    assert a != b


def test_content_hash_distinguishes_null_from_empty():
    a = only_valid_row(v2_transaction(category=None))["content_hash"]
    b = only_valid_row(v2_transaction(category=""))["content_hash"]
    assert a != b
