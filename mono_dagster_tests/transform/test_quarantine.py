"""Bad Mono objects are quarantined, never dropped, with reasons an operator can act on."""

from __future__ import annotations

import json
import re

import pytest

from mono_dagster_tests.transform.builders import (
    ACCOUNT_NUMBER,
    accounts_frame,
    canonicalise,
    legacy_transaction,
    only_reason,
    v2_transaction,
)


@pytest.mark.parametrize("missing", [None, "", "   "])
def test_missing_id_is_quarantined(missing):
    assert only_reason(v2_transaction(id=missing)) == "id: missing"


def test_legacy_object_without_any_id_is_quarantined():
    obj = legacy_transaction()
    del obj["_id"]
    assert only_reason(obj) == "id: missing"


@pytest.mark.parametrize(
    ("amount", "sample"),
    [
        (-500, "'-500'"),
        (0, "'0'"),
        (500.5, "'500.5'"),
        ("five hundred", "'five hundred'"),
        ("12.5", "'12.5'"),
        (True, "'True'"),
        (float("inf"), "'inf'"),
        (2**60, f"'******{str(2**60)[-4:]}'"),  # beyond 2**53, and masked like any long digit run
    ],
)
def test_amount_that_is_not_a_positive_integer_is_quarantined(amount, sample):
    assert only_reason(v2_transaction(amount=amount)) == f"amount: not a positive integer ({sample})"


def test_missing_amount_is_quarantined():
    assert only_reason(v2_transaction(amount=None)) == "amount: missing"


@pytest.mark.parametrize("kind", ["refund", "reversal", "DEBITS", "1"])
def test_type_other_than_debit_or_credit_is_quarantined(kind):
    assert only_reason(v2_transaction(type=kind)) == f"type: not debit or credit ('{kind}')"


def test_missing_type_is_quarantined():
    assert only_reason(v2_transaction(type=None)) == "type: missing"


@pytest.mark.parametrize(
    "date",
    [
        "yesterday",
        "14-12-2023",
        "2023",
        "2023-12",
        "2023-13-01T00:00:00Z",
        "2023-12-14T25:00:00Z",
        "3000-01-01T00:00:00Z",
    ],
)
def test_unparseable_date_is_quarantined(date):
    assert only_reason(v2_transaction(date=date)) == f"date: not an ISO-8601 date-time ('{date}')"


def test_missing_date_is_quarantined():
    assert only_reason(v2_transaction(date=None)) == "date: missing"


def test_unknown_transaction_currency_is_quarantined():
    assert only_reason(v2_transaction(currency="XYZ")) == "currency: unknown ISO 4217 code ('XYZ')"


def test_unknown_account_currency_is_quarantined_when_the_transaction_has_none():
    reason = only_reason(v2_transaction(), accounts=accounts_frame(currency="xof"))
    assert reason == "currency: unknown ISO 4217 code ('XOF')"


def test_account_missing_from_the_accounts_table_is_quarantined():
    reason = only_reason(v2_transaction(), account_id="66141b98e8d4a6001c0f7fff")
    assert reason == "account_id: not in the accounts table ('66141b98e8d4a6001c0f7fff')"


def test_non_integer_balance_is_quarantined():
    assert only_reason(v2_transaction(balance="lots")) == "balance: not an integer ('lots')"
    assert only_reason(v2_transaction(balance=10.5)) == "balance: not an integer ('10.5')"


def test_several_failures_on_one_row_are_all_named_in_field_order():
    reason = only_reason(v2_transaction(id=None, type="refund", amount=-5, date="soon"))
    assert reason == (
        "id: missing; type: not debit or credit ('refund'); amount: not a positive integer ('-5'); "
        "date: not an ISO-8601 date-time ('soon')"
    )


def test_long_sample_is_cut_short():
    reason = only_reason(v2_transaction(type="x" * 200))
    assert reason == f"type: not debit or credit ('{'x' * 40}…')"


def test_reason_sample_masks_long_digit_runs():
    reason = only_reason(v2_transaction(type=f"REVERSAL {ACCOUNT_NUMBER}"))
    assert ACCOUNT_NUMBER not in reason
    assert "******6789" in reason


def test_quarantined_row_keeps_keys_and_lineage():
    batch = canonicalise(v2_transaction(id="bad-1", amount=-5), raw_page_id=17)
    row = batch.quarantined.iloc[0]
    assert row["provider_transaction_id"] == "bad-1"
    assert row["account_id"] == "66141b98e8d4a6001c0f7a11"
    assert row["raw_page_id"] == 17
    assert batch.quarantined["raw_page_id"].dtype == "int64"


def test_raw_record_is_the_mono_object_as_compact_json():
    batch = canonicalise(v2_transaction(amount=-500, narration='say "hi"\nthen go'))
    record = batch.quarantined["raw_record"].iloc[0]
    assert " " not in record.replace("say ", "").replace("then go", "")  # compact separators
    assert json.loads(record) == {
        "id": "66141b98e8d4a6001c0f7b01",
        "type": "credit",
        "amount": -500,
        "narration": 'say "hi"\nthen go',
        "date": "2023-12-14T00:02:00.500Z",
        "balance": 150000,
        "currency": None,
        "category": "transfer",
    }


def test_raw_record_masks_account_numbers_and_bvns():
    bvn = "22212345678"
    batch = canonicalise(v2_transaction(amount=0, narration=f"TRF FROM {ACCOUNT_NUMBER} BVN {bvn}"))
    record = batch.quarantined["raw_record"].iloc[0]
    assert ACCOUNT_NUMBER not in record and bvn not in record
    assert json.loads(record)["narration"] == "TRF FROM ******6789 BVN ******5678"


def test_raw_record_writes_nested_garbage_as_text_and_nan_as_null():
    batch = canonicalise(v2_transaction(amount={"value": 5}, narration=["a", 1], balance=float("nan")))
    record = json.loads(batch.quarantined["raw_record"].iloc[0])
    assert record["amount"] == "{'value': 5}"
    assert record["narration"] == "['a', 1]"
    assert record["balance"] is None


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (1.5e-9, "0.******0015"),  # the writer spells it 0.0000000015
        (12345678901.5, "******8901.5"),
        (2**70, "******3424"),
        (5e-324, "4.******1247e-324"),
        ("\x01" + "23456789", "\ufffd23456789"),  # no \u0001 escape to glue onto the digits
    ],
)
def test_raw_record_masks_what_the_json_writer_would_spell_with_long_digit_runs(value, written):
    batch = canonicalise(v2_transaction(amount=0, balance=value))
    text = batch.quarantined["raw_record"].iloc[0]
    assert json.loads(text)["balance"] == written
    assert not re.search(r"[0-9]{10}", text)


def test_good_rows_beside_bad_ones_are_still_valid():
    batch = canonicalise(v2_transaction(id="good"), v2_transaction(id="bad", amount=0), v2_transaction(id="good2"))
    assert batch.valid["provider_transaction_id"].tolist() == ["good", "good2"]
    assert batch.quarantined["provider_transaction_id"].tolist() == ["bad"]


def test_raw_record_stays_valid_json_when_a_long_number_is_masked():
    batch = canonicalise(v2_transaction(amount=-1, balance=10_000_000_000))  # ₦100m in kobo: 11 digits
    record = json.loads(batch.quarantined["raw_record"].iloc[0])
    assert record["balance"] == "******0000"
    assert record["amount"] == -1


def test_raw_record_keeps_slashes_readable():
    batch = canonicalise(v2_transaction(amount=0, narration="NIP/TRF FROM A/GTB"))
    record = batch.quarantined["raw_record"].iloc[0]
    assert '"narration":"NIP/TRF FROM A/GTB"' in record


def test_lone_surrogates_from_a_bad_json_escape_become_replacement_characters():
    # json.loads('"\\ud800"') yields a lone surrogate, which Postgres cannot store.
    batch = canonicalise(
        v2_transaction(id="good", narration="TRF \ud800 OK", category="\udfff"),
        v2_transaction(id="bad", amount=0, narration="\ud800"),
    )
    for frame in (batch.valid, batch.quarantined):
        for column in frame.columns:
            for value in frame[column]:
                if isinstance(value, str):
                    value.encode("utf-8")  # raises if a surrogate survived
    assert "\ufffd" in batch.valid["narration"].iloc[0]
    assert json.loads(batch.quarantined["raw_record"].iloc[0])["narration"].startswith("\ufffd")
