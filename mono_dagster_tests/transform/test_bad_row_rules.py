"""The rule for each kind of bad row Mono can send (docs/canonical_schema.md, "Bad rows"), fast.

Each kind is either quarantined with a reason naming its field, or valid data kept intact; identical
copies of an id are one transaction and conflicting copies are never silently chosen.
"""

from __future__ import annotations

import json

import pytest

from mono_dagster.transform import build_raw_frame, to_canonical
from mono_dagster.transform.rules import MAX_NARRATION_CHARACTERS
from mono_dagster_tests.transform.builders import (
    ACCOUNT_ID,
    OTHER_ACCOUNT_ID,
    accounts_frame,
    canonicalise,
    legacy_transaction,
    only_reason,
    only_valid_row,
    v2_transaction,
)

CONFLICT = "id: repeated with different content"


def without(field: str, obj: dict | None = None) -> dict:
    """A Mono object that lacks ``field`` altogether (not null: absent)."""
    obj = dict(obj or v2_transaction())
    del obj[field]
    return obj


# -- amounts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["12,500", "N500", "", "5e2x"])
def test_an_amount_string_that_is_not_an_integer_is_quarantined(amount):
    reason = only_reason(v2_transaction(amount=amount))
    assert reason == ("amount: missing" if amount == "" else f"amount: not a positive integer ('{amount}')")


def test_an_amount_string_of_an_integer_is_the_same_amount():
    # The unit (kobo) belongs to the field, not to how a JSON encoder spelled the number.
    assert only_valid_row(v2_transaction(amount="50000"))["amount_minor"] == 50000


@pytest.mark.parametrize("amount", [500.5, 0.1, 147085.25])
def test_a_fractional_amount_is_quarantined(amount):
    assert only_reason(v2_transaction(amount=amount)) == f"amount: not a positive integer ('{amount}')"


def test_an_integral_float_amount_is_the_same_amount():
    row = only_valid_row(v2_transaction(amount=147085.0))
    assert (row["amount_minor"], str(row["amount"])) == (147085, "1470.85")


@pytest.mark.parametrize("amount", [-500, -1, 0])
def test_a_negative_or_zero_amount_is_quarantined(amount):
    assert only_reason(v2_transaction(amount=amount)) == f"amount: not a positive integer ('{amount}')"


def test_an_absent_amount_is_missing():
    assert only_reason(without("amount")) == "amount: missing"


# -- type and date ------------------------------------------------------------------------------------


def test_an_unknown_type_is_quarantined_and_an_absent_one_is_missing():
    assert only_reason(v2_transaction(type="refund")) == "type: not debit or credit ('refund')"
    assert only_reason(without("type")) == "type: missing"


@pytest.mark.parametrize("date", ["14-12-2023", "2023-12-14 noon", "20231214", "2023-02-30T10:00:00Z"])
def test_a_malformed_date_is_quarantined(date):
    assert only_reason(v2_transaction(date=date)) == f"date: not an ISO-8601 date-time ('{date}')"


def test_an_absent_date_is_missing():
    assert only_reason(without("date")) == "date: missing"


# -- ids and duplicates -------------------------------------------------------------------------------


def test_an_absent_id_is_missing_in_every_shape():
    assert only_reason(without("id")) == "id: missing"
    assert only_reason(without("_id", legacy_transaction())) == "id: missing"


def test_equal_rows_without_an_id_are_each_quarantined():
    batch = canonicalise(without("id"), without("id"), v2_transaction(id="good"))
    assert batch.quarantined["reason"].tolist() == ["id: missing", "id: missing"]
    assert batch.valid["provider_transaction_id"].tolist() == ["good"]
    assert batch.duplicates_dropped == 0


def test_an_identical_copy_in_the_same_page_is_stored_once():
    batch = canonicalise(v2_transaction(id="t1"), v2_transaction(id="t1"), v2_transaction(id="t2"))
    assert batch.valid["provider_transaction_id"].tolist() == ["t1", "t2"]
    assert (len(batch.quarantined), batch.duplicates_dropped) == (0, 1)


def test_an_identical_copy_on_another_page_is_stored_once_with_the_last_pages_lineage():
    raw = build_raw_frame([(ACCOUNT_ID, page, v2_transaction(id="t1")) for page in (1, 2, 3)])
    batch = to_canonical(raw, accounts_frame())
    assert batch.valid["raw_page_id"].tolist() == [3]
    assert batch.duplicates_dropped == 2


@pytest.mark.parametrize("pages", [(1, 1), (1, 2)], ids=["same page", "across pages"])
def test_two_versions_of_an_id_are_both_quarantined_naming_the_id(pages):
    raw = build_raw_frame(
        [
            (ACCOUNT_ID, pages[0], v2_transaction(id="t1", amount=500)),
            (ACCOUNT_ID, pages[1], v2_transaction(id="t1", amount=600)),
            (ACCOUNT_ID, pages[1], v2_transaction(id="t2")),
        ]
    )
    batch = to_canonical(raw, accounts_frame())
    assert batch.valid["provider_transaction_id"].tolist() == ["t2"]
    assert batch.quarantined["reason"].tolist() == [CONFLICT, CONFLICT]
    amounts = [json.loads(record)["amount"] for record in batch.quarantined["raw_record"]]
    assert amounts == [500, 600]  # both versions kept for the operator, neither stored


def test_identical_copies_of_one_version_are_dropped_before_the_versions_are_quarantined():
    batch = canonicalise(
        v2_transaction(id="t1", narration="A"), v2_transaction(id="t1", narration="A"), v2_transaction(id="t1")
    )
    assert batch.valid.empty
    assert (len(batch.quarantined), batch.duplicates_dropped) == (2, 1)


def test_a_number_and_its_string_are_different_content():
    # Strict on purpose: a conflict is quarantined for a look, a guess would be stored for good.
    batch = canonicalise(v2_transaction(id="t1", amount=500), v2_transaction(id="t1", amount="500"))
    assert batch.quarantined["reason"].tolist() == [CONFLICT, CONFLICT]


def test_the_same_id_with_different_content_in_two_accounts_is_no_conflict():
    raw = build_raw_frame(
        [(ACCOUNT_ID, 1, v2_transaction(id="t1", amount=1)), (OTHER_ACCOUNT_ID, 1, v2_transaction(id="t1", amount=2))]
    )
    batch = to_canonical(raw, accounts_frame())
    assert len(batch.valid) == 2 and batch.quarantined.empty


def test_a_conflict_lists_the_other_problems_of_each_version_too():
    batch = canonicalise(v2_transaction(id="t1"), v2_transaction(id="t1", type="refund"))
    assert batch.quarantined["reason"].tolist() == [CONFLICT, f"{CONFLICT}; type: not debit or credit ('refund')"]


# -- text: length, NUL, and what is valid -------------------------------------------------------------


def test_a_one_megabyte_narration_is_quarantined_with_its_length():
    reason = only_reason(v2_transaction(narration="A" * 1_048_576))
    assert reason == f"narration: longer than {MAX_NARRATION_CHARACTERS} characters ('1048576 characters')"


def test_a_narration_at_the_limit_is_kept_whole():
    narration = "NIP/TRF " + "X" * (MAX_NARRATION_CHARACTERS - 8)
    assert only_valid_row(v2_transaction(narration=narration))["narration"] == narration
    assert only_reason(v2_transaction(narration=narration + "X")).startswith("narration: longer than")


@pytest.mark.parametrize("field", ["narration", "category"])
def test_a_nul_character_in_stored_text_is_quarantined_naming_the_field(field):
    batch = canonicalise(v2_transaction(**{field: "POS\x00 SHOPRITE"}))
    assert batch.valid.empty
    assert batch.quarantined["reason"].tolist() == [f"{field}: holds a NUL character"]
    record = batch.quarantined["raw_record"].iloc[0]
    assert "\x00" not in record and json.loads(record)[field] == "POS\ufffd SHOPRITE"


def test_a_nul_character_in_the_id_is_quarantined_and_nothing_written_holds_nul():
    batch = canonicalise(v2_transaction(id="t\x001", type="re\x00fund"))
    reason = batch.quarantined["reason"].iloc[0]
    assert reason == "id: holds a NUL character; type: not debit or credit ('re\ufffdfund')"
    assert batch.quarantined["provider_transaction_id"].tolist() == ["t\ufffd1"]
    for column in batch.quarantined.columns:
        assert not any("\x00" in value for value in batch.quarantined[column] if isinstance(value, str)), column


@pytest.mark.parametrize(
    "narration",
    [
        "POS 🛒 SHOPRITE LEKKI ☕ café — 🇳🇬",
        'TRF TO "ADE\'S KITCHEN" \\ 50% OFF',
        "line one\nline two\ttabbed \\N not null",
        "'; DROP TABLE bank_transactions; --",
    ],
)
def test_emoji_quotes_and_escapes_are_data_kept_intact(narration):
    row = only_valid_row(v2_transaction(narration=narration))
    assert row["narration"] == narration
    assert only_valid_row(v2_transaction(narration=narration + "!"))["content_hash"] != row["content_hash"]
