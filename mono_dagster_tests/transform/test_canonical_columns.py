"""Each canonical column is derived from Mono's fields as `docs/canonical_schema.md` says."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from mono_dagster.records import CANONICAL_COLUMNS, QUARANTINE_COLUMNS
from mono_dagster_tests.transform.builders import (
    ACCOUNT_ID,
    OTHER_ACCOUNT_ID,
    accounts_frame,
    canonicalise,
    legacy_transaction,
    only_valid_row,
    v1_transaction,
    v2_transaction,
)


def test_valid_and_quarantined_have_exactly_the_contract_columns_in_order():
    batch = canonicalise(v2_transaction(), v2_transaction(id="bad", amount=-1))
    assert tuple(batch.valid.columns) == CANONICAL_COLUMNS
    assert tuple(batch.quarantined.columns) == QUARANTINE_COLUMNS


def test_canonical_dtypes_are_the_storage_contract():
    valid = canonicalise(v2_transaction()).valid
    assert str(valid["posted_at"].dtype) == "datetime64[ns, UTC]"
    assert valid["amount_minor"].dtype == "int64"
    assert valid["signed_amount_minor"].dtype == "int64"
    assert str(valid["balance_after_minor"].dtype) == "Int64"
    assert valid["raw_page_id"].dtype == "int64"
    assert isinstance(valid["amount"].iloc[0], Decimal)
    assert type(valid["posted_date"].iloc[0]) is dt.date
    assert type(valid["posted_date_lagos"].iloc[0]) is dt.date


def test_provider_is_always_mono():
    assert only_valid_row(v2_transaction())["provider"] == "mono"


def test_account_details_come_from_the_accounts_table():
    row = only_valid_row(v2_transaction())
    assert row["account_id"] == ACCOUNT_ID
    assert row["institution"] == "GTBank"
    assert row["account_number_masked"] == "******6789"


def test_debit_gets_a_negative_signed_amount():
    row = only_valid_row(v2_transaction(type="debit", amount=50000))
    assert row["direction"] == "debit"
    assert row["amount_minor"] == 50000
    assert row["signed_amount_minor"] == -50000
    assert row["amount"] == Decimal("500.00")
    assert row["signed_amount"] == Decimal("-500.00")


def test_credit_keeps_a_positive_signed_amount():
    row = only_valid_row(v2_transaction(type="credit", amount=9000))
    assert row["signed_amount_minor"] == 9000
    assert row["signed_amount"] == Decimal("90.00")


def test_direction_is_lowercased():
    assert only_valid_row(v2_transaction(type="DEBIT"))["direction"] == "debit"
    assert only_valid_row(v2_transaction(type=" Credit "))["direction"] == "credit"


def test_decimal_amount_is_exact_and_keeps_two_places():
    row = only_valid_row(v2_transaction(amount=147085))
    assert row["amount"] == Decimal("1470.85")
    assert str(row["amount"]) == "1470.85"
    assert str(only_valid_row(v2_transaction(amount=100))["amount"]) == "1.00"


@pytest.mark.parametrize("amount", [500, "500", 500.0, "500.0"])
def test_an_integral_amount_in_any_json_type_is_accepted(amount):
    assert only_valid_row(v2_transaction(amount=amount))["amount_minor"] == 500


def test_transaction_currency_is_uppercased():
    assert only_valid_row(v1_transaction(currency="ghs"))["currency"] == "GHS"


def test_v2_transaction_without_currency_takes_the_account_currency():
    accounts = accounts_frame(currency="KES")
    assert only_valid_row(v2_transaction(), accounts=accounts)["currency"] == "KES"


def test_without_any_currency_naira_is_assumed():
    accounts = accounts_frame(currency=None)
    assert only_valid_row(v2_transaction(), accounts=accounts)["currency"] == "NGN"


def test_balance_is_a_nullable_integer():
    assert only_valid_row(v2_transaction(balance=1021841))["balance_after_minor"] == 1021841
    assert pd.isna(only_valid_row(v2_transaction(balance=None))["balance_after_minor"])
    assert only_valid_row(v2_transaction(balance=-2500))["balance_after_minor"] == -2500


def test_null_narration_becomes_empty_text():
    assert only_valid_row(v2_transaction(narration=None))["narration"] == ""


@pytest.mark.parametrize(
    ("mono_category", "category"),
    [
        ("E-CHANNELS", "e_channels"),
        ("bank_charges", "bank_charges"),
        ("online_transactions", "online_transactions"),
        ("onlineTransactions", "online_transactions"),
        ("Gifts & Donations", "gifts_donations"),
        ("unknown", "uncategorised"),
        ("UNKNOWN", "uncategorised"),
        ("", "uncategorised"),
        (None, "uncategorised"),
    ],
)
def test_category_is_normalised_to_snake_case(mono_category, category):
    row = only_valid_row(v2_transaction(category=mono_category))
    assert row["category"] == category


def test_provider_category_is_kept_as_mono_sent_it():
    assert only_valid_row(legacy_transaction())["provider_category"] == "E-CHANNELS"
    assert only_valid_row(v2_transaction(category=None))["provider_category"] is None


def test_posted_at_is_utc():
    row = only_valid_row(v2_transaction(date="2023-12-14T00:02:00.500Z"))
    assert row["posted_at"] == pd.Timestamp("2023-12-14T00:02:00.500", tz="UTC")


def test_an_offset_date_is_converted_to_utc():
    row = only_valid_row(v2_transaction(date="2023-12-14T00:30:00+01:00"))
    assert row["posted_at"] == pd.Timestamp("2023-12-13T23:30:00", tz="UTC")
    assert row["posted_date"] == dt.date(2023, 12, 13)


def test_half_past_eleven_utc_is_the_next_day_in_lagos():
    row = only_valid_row(v2_transaction(date="2023-12-14T23:30:00.000Z"))
    assert row["posted_date"] == dt.date(2023, 12, 14)
    assert row["posted_date_lagos"] == dt.date(2023, 12, 15)


def test_before_eleven_utc_lagos_and_utc_share_the_date():
    row = only_valid_row(v2_transaction(date="2023-12-14T22:59:59.999Z"))
    assert row["posted_date"] == row["posted_date_lagos"] == dt.date(2023, 12, 14)


def test_lagos_date_rolls_over_a_year_end():
    row = only_valid_row(v2_transaction(date="2023-12-31T23:00:00Z"))
    assert row["posted_date"] == dt.date(2023, 12, 31)
    assert row["posted_date_lagos"] == dt.date(2024, 1, 1)


def test_raw_page_id_is_carried_through():
    assert only_valid_row(v2_transaction(), raw_page_id=4242)["raw_page_id"] == 4242


def test_rows_of_two_accounts_get_their_own_account_details():
    raw_batch = canonicalise(v2_transaction(), account_id=OTHER_ACCOUNT_ID)
    row = raw_batch.valid.iloc[0]
    assert row["institution"] == "Access Bank"
    assert row["account_number_masked"] == "******4321"


def test_valid_rows_keep_input_order():
    batch = canonicalise(*(v2_transaction(id=f"t{i}") for i in range(5)))
    assert batch.valid["provider_transaction_id"].tolist() == [f"t{i}" for i in range(5)]
