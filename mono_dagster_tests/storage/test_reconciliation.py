"""Reconciliation queries: fetched keys from raw pages, duplicates, balance breaks, stale accounts."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from mono_dagster.storage.accounts import (
    AccountRecord,
    record_sync_success,
    register_accounts,
    set_account_status,
)
from mono_dagster.storage.bank_transactions import persist_staged
from mono_dagster.storage.canonical_stage import stage_canonical
from mono_dagster.storage.fetch_log import FetchRecord, record_fetch
from mono_dagster.storage.raw_pages import store_raw_pages
from mono_dagster.storage.reconciliation import (
    accounts_without_recent_success,
    balance_breaks,
    duplicate_keys,
    fetched_keys,
    fetched_keys_count,
    persisted_count_for_keys,
    transactions_in_payload,
)
from mono_dagster_tests.storage.builders import NOW, T0, canonical_frame, canonical_row, daily_rows, raw_page

START, END = date(2024, 3, 1), date(2024, 3, 7)
V2 = json.dumps({"data": [{"id": "a"}, {"id": "b"}], "meta": {"total": 3, "next": "…?page=2"}})
V2_NULL = json.dumps({"data": None, "meta": {"total": 0}})
V1 = json.dumps({"data": {"paging": {"total": 2}, "transactions": [{"id": "b"}, {"id": "c"}]}})
LEGACY = json.dumps({"paging": {"total": 2}, "data": [{"_id": "d"}, {"_id": ""}, {"amount": 5}]})


def _persist(conn, run_id, rows):
    stage_canonical(conn, run_id, canonical_frame(rows))
    persist_staged(conn, run_id, correlation_id="c", complete_windows=[], now=NOW)


def test_payloads_of_all_three_mono_shapes_are_read():
    assert [t["id"] for t in transactions_in_payload(V2)] == ["a", "b"]
    assert transactions_in_payload(V2_NULL) == []
    assert [t["id"] for t in transactions_in_payload(V1)] == ["b", "c"]
    assert len(transactions_in_payload(LEGACY)) == 3
    with pytest.raises(ValueError, match="not a Mono transactions page"):
        transactions_in_payload("[1, 2]")


def test_fetched_keys_come_from_the_runs_successful_fetches(engine):
    with engine.begin() as conn:
        pages_1 = store_raw_pages(
            conn,
            [
                raw_page("acc-1", 1, payload=V2),
                raw_page("acc-1", 2, payload=V1, shape="v1"),
                raw_page("acc-1", 3, payload=V2_NULL),
            ],
        )
        (page_2,) = store_raw_pages(conn, [raw_page("acc-2", 1, payload=LEGACY, shape="legacy")])
        (failed_page,) = store_raw_pages(conn, [raw_page("acc-3", 1, payload=V2)])
        record_fetch(conn, FetchRecord("run-1", "c", "acc-1", START, END, "ok", raw_page_ids=tuple(pages_1)))
        record_fetch(conn, FetchRecord("run-1", "c", "acc-2", START, END, "ok", raw_page_ids=(page_2,)))
        record_fetch(conn, FetchRecord("run-1", "c", "acc-3", START, END, "failed", raw_page_ids=(failed_page,)))
        keys = fetched_keys(conn, "run-1")
        assert keys == {("acc-1", "a"), ("acc-1", "b"), ("acc-1", "c"), ("acc-2", "d")}
        assert fetched_keys_count(conn, "run-1") == 4
        # A later run re-fetching identical pages stores nothing new, yet they are its pages too.
        again = store_raw_pages(conn, [raw_page("acc-1", 1, payload=V2, run_id="run-2")])
        record_fetch(conn, FetchRecord("run-2", "c", "acc-1", START, END, "ok", raw_page_ids=tuple(again)))
        assert fetched_keys(conn, "run-2") == {("acc-1", "a"), ("acc-1", "b")}


def test_persisted_count_for_keys(engine):
    with engine.begin() as conn:
        _persist(
            conn,
            "run-1",
            [canonical_row("acc-1", "a"), canonical_row("acc-1", "b"), canonical_row("acc-2", "a")],
        )
        keys = {("acc-1", "a"), ("acc-1", "b"), ("acc-1", "zzz"), ("acc-2", "a"), ("acc-3", "a")}
        assert persisted_count_for_keys(conn, keys) == 3
        assert persisted_count_for_keys(conn, []) == 0


def test_no_duplicates_in_a_healthy_table(engine):
    with engine.begin() as conn:
        _persist(conn, "run-1", daily_rows("acc-1", days=5) + daily_rows("acc-2", days=5))
        assert duplicate_keys(conn, ["acc-1", "acc-2"], START, END) == []


def test_duplicates_are_reported_if_the_constraints_were_ever_lost(engine):
    with engine.begin() as conn:
        _persist(conn, "run-1", [canonical_row("acc-1", "a")])
        # A copy of the table without its constraints (CREATE TABLE AS keeps none), on both dialects.
        conn.exec_driver_sql("CREATE TABLE unconstrained AS SELECT * FROM bank_transactions")
        conn.exec_driver_sql("DROP TABLE bank_transactions")
        conn.exec_driver_sql("ALTER TABLE unconstrained RENAME TO bank_transactions")
        conn.exec_driver_sql("INSERT INTO bank_transactions SELECT * FROM bank_transactions")
        found = duplicate_keys(conn, ["acc-1"], START, END)
        conn.rollback()
    assert sorted((d.kind, d.key, d.count) for d in found) == [
        ("natural_key", ("acc-1", "a"), 2),
        ("transaction_id", (canonical_row("acc-1", "a")["transaction_id"],), 2),
    ]
    assert "stored 2 times" in str(found[0])


def test_a_continuous_balance_series_has_no_breaks(engine):
    with engine.begin() as conn:
        _persist(conn, "run-1", daily_rows("acc-1", days=7, per_day=3))
        assert balance_breaks(conn, "acc-1", START, END) == []


def test_balance_breaks_are_found_and_nulls_skipped(engine):
    rows = daily_rows("acc-1", days=4)  # credits of 1,000 with balances 1,001,000 .. 1,004,000
    rows[2] = canonical_row(
        "acc-1", rows[2]["provider_transaction_id"], posted_at=rows[2]["posted_at"], amount_minor=1_000,
        direction="credit", balance_after_minor=1_002_500,
    )  # fmt: skip
    rows.append(canonical_row("acc-1", "no-balance", posted_at=T0 + timedelta(days=5), balance_after_minor=None))
    with engine.begin() as conn:
        _persist(conn, "run-1", rows)
        breaks = balance_breaks(conn, "acc-1", START, END)
    # Day 2 is 500 too high, so day 3 (which continues from the true balance) breaks as well.
    assert [(b.provider_transaction_id, b.expected_balance_minor, b.balance_after_minor) for b in breaks] == [
        ("acc-1-d002-00", 1_003_000, 1_002_500),
        ("acc-1-d003-00", 1_003_500, 1_004_000),
    ]
    assert breaks[0].previous_provider_transaction_id == "acc-1-d001-00"
    assert "off by -500" in str(breaks[0])


def test_debits_reduce_the_expected_balance(engine):
    rows = [
        canonical_row("acc-1", "t1", posted_at=T0, direction="credit", amount_minor=5_000, balance_after_minor=5_000),
        canonical_row("acc-1", "t2", posted_at=T0 + timedelta(hours=1), amount_minor=2_000, balance_after_minor=3_000),
    ]
    with engine.begin() as conn:
        _persist(conn, "run-1", rows)
        assert balance_breaks(conn, "acc-1", START, END) == []


def test_accounts_without_recent_success(engine):
    with engine.begin() as conn:
        register_accounts(conn, [AccountRecord(a) for a in ("fresh", "stale", "never", "paused")], 8)
        record_sync_success(conn, "fresh", START, END, NOW - timedelta(hours=2))
        record_sync_success(conn, "stale", START, END, NOW - timedelta(hours=30))
        set_account_status(conn, "paused", "paused")
        assert accounts_without_recent_success(conn, NOW, timedelta(hours=26)) == ["never", "stale"]
