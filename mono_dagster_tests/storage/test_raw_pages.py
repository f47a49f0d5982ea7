"""Raw pages: stored once per (account, window, page, payload hash), loaded by id, purged by age."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from mono_dagster.storage.raw_pages import load_raw_pages, purge_raw_pages, store_raw_pages
from mono_dagster.storage.tables import mono_raw_pages
from mono_dagster_tests.storage.builders import NOW, raw_page


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(mono_raw_pages)).scalar_one()


def test_raw_pages_are_stored_once(engine):
    pages = [raw_page(page_number=n) for n in (1, 2, 3)]
    with engine.begin() as conn:
        first = store_raw_pages(conn, pages)
    refetched = [raw_page(page_number=n, run_id="run-2", fetched_at=NOW + timedelta(hours=1)) for n in (1, 2, 3)]
    with engine.begin() as conn:
        second = store_raw_pages(conn, refetched)
    assert second == first and len(set(first)) == 3
    assert _count(engine) == 3
    with engine.connect() as conn:
        stored = load_raw_pages(conn, first)
    assert {page.run_id for page in stored} == {"run-1"}  # the run that first stored them


def test_store_returns_ids_in_input_order_for_new_and_existing_pages(engine):
    with engine.begin() as conn:
        (existing,) = store_raw_pages(conn, [raw_page(page_number=2)])
        ids = store_raw_pages(conn, [raw_page(page_number=1), raw_page(page_number=2), raw_page(page_number=3)])
        again = store_raw_pages(conn, [raw_page(page_number=3), raw_page(page_number=3)])
    assert ids[1] == existing
    assert len(set(ids)) == 3
    assert again == [ids[2], ids[2]]


def test_a_changed_payload_is_a_new_page(engine):
    with engine.begin() as conn:
        (first,) = store_raw_pages(conn, [raw_page(payload='{"data": [], "meta": {}}')])
        (second,) = store_raw_pages(conn, [raw_page(payload='{"data": [{"id": "x"}], "meta": {}}')])
    assert first != second
    assert _count(engine) == 2


def test_loaded_pages_are_byte_for_byte_what_was_received(engine):
    body = '{"paging": {"total": 1}, "data": [{"_id": "a", "narration": "Café ₦ \\u0000"}]}'
    page = raw_page(payload=body, shape="legacy")
    with engine.begin() as conn:
        (page_id,) = store_raw_pages(conn, [page])
    with engine.connect() as conn:
        (stored,) = load_raw_pages(conn, [page_id, page_id, 999_999])
    assert stored.payload == body
    assert stored.payload_sha256 == page.payload_sha256
    assert (stored.response_shape, stored.account_id, stored.window_start) == (
        "legacy",
        "acc-1",
        page.window_start,
    )
    assert stored.fetched_at == NOW


def test_load_keeps_the_order_asked_for(engine):
    with engine.begin() as conn:
        ids = store_raw_pages(conn, [raw_page(page_number=n) for n in range(1, 6)])
    with engine.connect() as conn:
        assert [page.id for page in load_raw_pages(conn, reversed(ids))] == list(reversed(ids))


def test_unknown_response_shape_is_refused(engine):
    with engine.begin() as conn, pytest.raises(ValueError, match="response shape"):
        store_raw_pages(conn, [raw_page(shape="v3")])


def test_purge_deletes_only_pages_fetched_before_the_horizon(engine):
    with engine.begin() as conn:
        old = store_raw_pages(conn, [raw_page(page_number=1, fetched_at=NOW - timedelta(days=31))])
        kept = store_raw_pages(conn, [raw_page(page_number=2, fetched_at=NOW - timedelta(days=29))])
    with engine.begin() as conn:
        assert purge_raw_pages(conn, NOW - timedelta(days=30)) == 1
        assert purge_raw_pages(conn, NOW - timedelta(days=30)) == 0
    with engine.connect() as conn:
        assert [page.id for page in load_raw_pages(conn, old + kept)] == kept
