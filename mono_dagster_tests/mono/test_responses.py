from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from mono_dagster.mono.responses import UnknownShape, UnparseableBody, parse_transactions_page
from mono_dagster.mono.retry import parse_retry_after

V2 = {
    "status": "successful",
    "data": [{"id": "a1", "amount": 500, "type": "debit"}],
    "meta": {
        "total": 307,
        "page": 1,
        "previous": None,
        "next": "https://api.withmono.com/v2/abc/transactions?page=2",
    },
}
V1 = {
    "status": "successful",
    "data": {
        "paging": {
            "page": 1,
            "total": 35,
            "previous": None,
            "next": "https://api.withmono.com/accounts/x/transactions?page=2",
        },
        "transactions": [{"id": "b1", "amount": 9000, "type": "credit", "currency": "NGN"}],
    },
}
LEGACY = {
    "paging": {"total": 190, "page": 2, "previous": "x?page=2", "next": "x?page=3"},
    "data": [{"_id": "c1", "amount": 147085, "type": "debit"}],
}


@pytest.mark.parametrize(
    ("document", "shape", "total", "next_page"),
    [(V2, "v2", 307, 2), (V1, "v1", 35, 2), (LEGACY, "legacy", 190, 3)],
)
def test_each_shape_is_read(document, shape, total, next_page):
    page = parse_transactions_page(json.dumps(document))
    assert (page.shape, page.total, page.next_page, page.has_next) == (shape, total, next_page, True)
    assert len(page.transactions) == 1


def test_data_null_meta_null_is_an_empty_last_page():
    body = json.dumps({"status": "successful", "message": "No transactions found", "data": None, "meta": None})
    page = parse_transactions_page(body)
    assert page.transactions == [] and not page.has_next and page.total is None


def test_a_truncated_body_is_unparseable():
    body = json.dumps(V2)
    with pytest.raises(UnparseableBody):
        parse_transactions_page(body[: len(body) // 2])


@pytest.mark.parametrize("document", [[1, 2], {"status": "successful"}, {"data": [1, 2], "meta": {}}])
def test_json_that_is_no_mono_shape_is_refused(document):
    with pytest.raises(UnknownShape):
        parse_transactions_page(json.dumps(document))


def test_retry_after_seconds_and_http_dates():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
