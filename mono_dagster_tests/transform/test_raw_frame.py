"""`build_raw_frame` turns Mono objects of every API generation into one column-per-field frame."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mono_dagster.mono.responses import parse_transactions_page
from mono_dagster.records import RAW_TRANSACTION_FIELDS
from mono_dagster.transform import (
    RAW_FRAME_COLUMNS,
    TransformInputError,
    build_raw_frame,
    build_raw_frame_from_pages,
    to_canonical,
)
from mono_dagster.transform.pages import page_transactions
from mono_dagster_tests.transform.builders import (
    ACCOUNT_ID,
    accounts_frame,
    legacy_transaction,
    v1_transaction,
    v2_transaction,
)


def test_raw_frame_has_lineage_then_mono_fields_in_contract_order():
    frame = build_raw_frame([(ACCOUNT_ID, 7, v2_transaction())])
    assert tuple(frame.columns) == ("account_id", "raw_page_id", *RAW_TRANSACTION_FIELDS)
    assert frame["raw_page_id"].dtype == "int64"
    assert frame.loc[0, "raw_page_id"] == 7


def test_v2_object_without_currency_gets_a_null_currency():
    frame = build_raw_frame([(ACCOUNT_ID, 1, v2_transaction())])
    assert frame.loc[0, "currency"] is None
    assert frame.loc[0, "id"] == "66141b98e8d4a6001c0f7b01"


def test_v1_object_keeps_its_currency():
    frame = build_raw_frame([(ACCOUNT_ID, 1, v1_transaction(currency="GHS"))])
    assert frame.loc[0, "currency"] == "GHS"


def test_legacy_underscore_id_becomes_id():
    frame = build_raw_frame([(ACCOUNT_ID, 1, legacy_transaction())])
    assert frame.loc[0, "id"] == "62a05b1f3c4d5e0012f0a001"


def test_id_wins_over_underscore_id_when_both_are_present():
    frame = build_raw_frame([(ACCOUNT_ID, 1, v2_transaction(id="new", _id="old"))])
    assert frame.loc[0, "id"] == "new"


def test_null_id_falls_back_to_underscore_id():
    frame = build_raw_frame([(ACCOUNT_ID, 1, v2_transaction(id=None, _id="old"))])
    assert frame.loc[0, "id"] == "old"


def test_values_keep_the_python_types_mono_sent():
    frame = build_raw_frame(
        [
            (ACCOUNT_ID, 1, v2_transaction(amount=500)),
            (ACCOUNT_ID, 1, v2_transaction(amount="500")),
            (ACCOUNT_ID, 1, v2_transaction(amount=500.5)),
            (ACCOUNT_ID, 1, v2_transaction(amount=None)),
        ]
    )
    assert frame["amount"].dtype == object
    assert frame["amount"].tolist() == [500, "500", 500.5, None]


def test_something_that_is_not_an_object_becomes_an_empty_row():
    frame = build_raw_frame([(ACCOUNT_ID, 1, None), (ACCOUNT_ID, 1, ["not", "an", "object"])])  # type: ignore[list-item]
    assert len(frame) == 2
    assert frame[list(RAW_TRANSACTION_FIELDS)].isna().all().all()


def test_no_records_give_an_empty_frame_with_every_column():
    frame = build_raw_frame([])
    assert tuple(frame.columns) == RAW_FRAME_COLUMNS
    assert frame.empty
    batch = to_canonical(frame, accounts_frame())
    assert batch.valid.empty and batch.quarantined.empty and batch.duplicates_dropped == 0


def test_all_three_shapes_canonicalise_together():
    raw = build_raw_frame(
        [
            (ACCOUNT_ID, 1, v2_transaction()),
            (ACCOUNT_ID, 2, v1_transaction()),
            (ACCOUNT_ID, 3, legacy_transaction()),
        ]
    )
    batch = to_canonical(raw, accounts_frame())
    assert batch.quarantined.empty
    assert sorted(batch.valid["provider_transaction_id"]) == [
        "62a05b1f3c4d5e0012f0a001",
        "6520a2f1c9e77a0012ab3c01",
        "66141b98e8d4a6001c0f7b01",
    ]
    assert batch.valid["raw_page_id"].tolist() == [1, 2, 3]


def test_a_frame_missing_a_column_is_refused_with_its_name():
    raw = build_raw_frame([(ACCOUNT_ID, 1, v2_transaction())]).drop(columns=["narration"])
    with pytest.raises(TransformInputError, match="narration"):
        to_canonical(raw, accounts_frame())


def test_accounts_missing_a_column_is_refused():
    raw = build_raw_frame([(ACCOUNT_ID, 1, v2_transaction())])
    with pytest.raises(TransformInputError, match="account_number"):
        to_canonical(raw, accounts_frame().drop(columns=["account_number"]))


def test_a_null_raw_page_id_is_a_caller_bug():
    raw = build_raw_frame([(ACCOUNT_ID, 1, v2_transaction())])
    raw["raw_page_id"] = pd.Series([None], dtype=object)
    with pytest.raises(TransformInputError, match="raw_page_id"):
        to_canonical(raw, accounts_frame())


def test_a_raw_frame_with_a_non_default_index_is_handled():
    raw = build_raw_frame([(ACCOUNT_ID, 1, v2_transaction(id="a")), (ACCOUNT_ID, 1, v2_transaction(id="b"))])
    raw.index = [10, 3]
    batch = to_canonical(raw, accounts_frame())
    assert batch.valid["provider_transaction_id"].tolist() == ["a", "b"]
    assert list(batch.valid.index) == [0, 1]


def test_page_transactions_read_every_mono_shape_like_the_client():
    rows = [{"id": "t1", "amount": 123456789012345678901234567890}, {"_id": "t2", "amount": 5}]
    bodies = [
        json.dumps({"data": rows, "meta": {"total": 2, "page": 1, "next": None}}),
        json.dumps({"data": {"paging": {"total": 2}, "transactions": rows}}),
        json.dumps({"paging": {"total": 2}, "data": rows}),
        json.dumps({"data": None, "meta": None}),
    ]
    for body in bodies:
        assert page_transactions(body) == parse_transactions_page(body).transactions


def test_frame_from_pages_equals_frame_from_records():
    pages = [
        ("acc-1", 1, [{"id": "a", "amount": 1}, {"_id": "b", "type": "debit"}, "not an object"]),
        ("acc-2", 2, [{"id": None, "_id": "c", "narration": ["a", "list"]}]),
        ("acc-2", 3, []),
    ]
    records = [(account, page, obj) for account, page, objects in pages for obj in objects]
    pd.testing.assert_frame_equal(build_raw_frame_from_pages(pages), build_raw_frame(records))
    assert build_raw_frame_from_pages(pages)["id"].tolist() == ["a", "b", None, "c"]
