"""Reconciliation queries: counts of what a run fetched and holds, duplicates, balance breaks, staleness."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import sqlalchemy as sa

from mono_dagster.pipeline.reconcile import reconcile_run
from mono_dagster.storage.accounts import (
    AccountRecord,
    record_sync_success,
    register_accounts,
    set_account_status,
)
from mono_dagster.storage.balance_checks import balance_breaks
from mono_dagster.storage.bank_transactions import persist_staged
from mono_dagster.storage.canonical_stage import stage_canonical
from mono_dagster.storage.fetch_log import FetchRecord, record_fetch
from mono_dagster.storage.quarantine import quarantine_rows
from mono_dagster.storage.raw_pages import store_raw_pages
from mono_dagster.storage.reconciliation import (
    AccountCounts,
    accounts_without_recent_success,
    duplicate_keys,
    run_counts,
)
from mono_dagster.storage.tables import bank_transactions, mono_raw_pages, quarantined_transactions
from mono_dagster_tests.storage.builders import (
    NOW,
    T0,
    canonical_frame,
    canonical_row,
    daily_rows,
    quarantine_frame,
    quarantine_row,
    raw_page,
)

START, END = date(2024, 3, 1), date(2024, 3, 7)


def _persist(conn, run_id, rows, windows=()):
    stage_canonical(conn, run_id, canonical_frame(rows))
    persist_staged(conn, run_id, correlation_id="c", complete_windows=list(windows), now=NOW)


def _sync(conn, run_id, account_id, page_counts, *, dropped=0, status="ok", logged=None):
    """What the sync records: pages with their transaction counts, and the fetch log's row."""
    pages = [
        # A page's body determines its count: the same body is the same stored page, whichever run sends it.
        replace(raw_page(account_id, number, run_id=run_id, payload=f'{{"objects": {count}}}'), transaction_count=count)
        for number, count in enumerate(page_counts, start=1)
    ]
    page_ids = store_raw_pages(conn, pages)
    kept = sum(page_counts) - dropped if logged is None else logged
    record_fetch(
        conn,
        FetchRecord(
            run_id,
            "c",
            account_id,
            START,
            END,
            status,
            tuple(page_ids),
            transaction_count=kept,
            duplicates_dropped=dropped,
        ),
    )


def _quarantine(conn, run_id, rows):
    quarantine_rows(
        conn, quarantine_frame(rows), run_id=run_id, correlation_id="c", window_start=START, window_end=END, now=NOW
    )


def _run(engine, run_id, *, persisted, quarantined=(), pages, dropped=0):
    """One run of one account acc-1: sync, quarantine, persist its window."""
    with engine.begin() as conn:
        _sync(conn, run_id, "acc-1", pages, dropped=dropped)
        if quarantined:
            _quarantine(conn, run_id, list(quarantined))
        _persist(conn, run_id, persisted, windows=[("acc-1", START, END)])


def test_a_run_balances_per_account_from_page_counts(engine):
    acc1 = daily_rows("acc-1", days=5, per_day=2)  # 10 rows
    acc2 = daily_rows("acc-2", days=3)
    bad = [quarantine_row("acc-1", "bad-1"), quarantine_row("acc-1", None, reason="id: missing")]
    with engine.begin() as conn:
        # acc-1: 13 objects on two pages, one of them an id repeated across pages that the client dropped.
        _sync(conn, "run-1", "acc-1", [7, 6], dropped=1)
        _sync(conn, "run-1", "acc-2", [3])
        _sync(conn, "run-1", "acc-3", [4], status="failed")  # a failed fetch is not the run's to account for
        _quarantine(conn, "run-1", bad)
        windows = [("acc-1", START, END), ("acc-2", START, END)]
        _persist(conn, "run-1", acc1 + acc2, windows=windows)
        assert run_counts(conn, "run-1") == [
            AccountCounts("acc-1", fetched=12, fetch_logged=12, persisted=10, quarantined=2),
            AccountCounts("acc-2", fetched=3, fetch_logged=3, persisted=3, quarantined=0),
        ]
    reconciliation = reconcile_run(engine, "run-1")
    assert reconciliation.balanced
    assert (reconciliation.fetched, reconciliation.persisted, reconciliation.quarantined) == (15, 13, 2)


def test_a_lost_persisted_row_fails_naming_the_account_and_counts(engine):
    rows = daily_rows("acc-1", days=5)
    _run(engine, "run-1", persisted=rows, pages=[5])
    assert reconcile_run(engine, "run-1").balanced
    with engine.begin() as conn:
        conn.execute(sa.delete(bank_transactions).where(bank_transactions.c.provider_transaction_id == "acc-1-d002-00"))
    reconciliation = reconcile_run(engine, "run-1")
    assert not reconciliation.balanced
    (account,) = reconciliation.unbalanced
    assert str(account) == "acc-1: fetched 5, persisted 4 + quarantined 0 (1 unaccounted)"


def test_a_lost_quarantine_row_fails_too(engine):
    _run(engine, "run-1", persisted=daily_rows("acc-1", days=2), quarantined=[quarantine_row()], pages=[3])
    assert reconcile_run(engine, "run-1").balanced
    with engine.begin() as conn:
        conn.execute(sa.delete(quarantined_transactions))
    (account,) = reconcile_run(engine, "run-1").unbalanced
    assert (account.account_id, account.fetched, account.persisted, account.quarantined) == ("acc-1", 3, 2, 0)


def test_pages_that_disagree_with_the_fetch_log_fail(engine):
    with engine.begin() as conn:
        _sync(conn, "run-1", "acc-1", [2], logged=3)
        _persist(conn, "run-1", daily_rows("acc-1", days=2), windows=[("acc-1", START, END)])
    (account,) = reconcile_run(engine, "run-1").unbalanced
    assert str(account).endswith("; the fetch log says 3 fetched")
    # A purged page counts nothing either, so its transactions cannot be vouched for.
    with engine.begin() as conn:
        _sync(conn, "run-2", "acc-1", [2])
        _persist(conn, "run-2", daily_rows("acc-1", days=2), windows=[("acc-1", START, END)])
    assert reconcile_run(engine, "run-2").balanced
    with engine.begin() as conn:
        conn.execute(sa.delete(mono_raw_pages))
    assert [a.fetched for a in reconcile_run(engine, "run-2").unbalanced] == [0]


def test_rows_the_run_did_not_see_are_not_counted(engine):
    rows = daily_rows("acc-1", days=5)
    _run(engine, "run-1", persisted=rows, pages=[5])
    _run(engine, "run-2", persisted=rows[:3], pages=[3])  # two rows now counted missing
    _run(engine, "run-3", persisted=rows[:3], pages=[3])  # and now vanished
    with engine.begin() as conn:
        # A row of another account, and one of acc-1 outside the window, are not this run's either.
        _persist(
            conn,
            "other",
            [canonical_row("acc-2", "x"), canonical_row("acc-1", "late", posted_at=T0 + timedelta(days=9))],
        )
    for run_id in ("run-2", "run-3"):
        counts = reconcile_run(engine, run_id)
        assert counts.balanced and (counts.fetched, counts.persisted) == (3, 3), run_id


def test_a_persisted_row_now_quarantined_counts_once(engine):
    rows = daily_rows("acc-1", days=3)
    _run(engine, "run-1", persisted=rows, pages=[3])
    # Mono now sends one of them malformed: quarantined by run-2, its stored row kept and seen.
    bad = quarantine_row("acc-1", rows[0]["provider_transaction_id"])
    _run(engine, "run-2", persisted=rows[1:], quarantined=[bad], pages=[3])
    counts = reconcile_run(engine, "run-2")
    assert counts.balanced and (counts.persisted, counts.quarantined) == (2, 1)


def test_a_rerun_of_identical_pages_balances_on_its_own(engine):
    rows = daily_rows("acc-1", days=4)
    _run(engine, "run-1", persisted=rows, pages=[4])
    _run(engine, "run-2", persisted=rows, pages=[4])  # the same pages: stored once, logged by both runs
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(mono_raw_pages)).scalar_one() == 1
    assert reconcile_run(engine, "run-2").balanced
    assert reconcile_run(engine, "no-such-run").accounts == ()


def test_no_duplicates_in_a_healthy_table(engine):
    with engine.begin() as conn:
        _persist(conn, "run-1", daily_rows("acc-1", days=5) + daily_rows("acc-2", days=5))
        assert duplicate_keys(conn, ["acc-1", "acc-2"], START, END) == []


def test_one_mono_id_stored_under_two_transaction_ids_is_reported(engine):
    # Nothing but the derivation of transaction_id keeps (account, Mono id) unique now: a wrongly
    # derived id (or a hand-loaded row) stores the same transaction twice, and only this check notices.
    row = canonical_row("acc-1", "a")
    twin = {**row, "transaction_id": "00000000-0000-5000-8000-000000000000"}
    with engine.begin() as conn:
        _persist(conn, "run-1", [row])
        _persist(conn, "run-2", [twin])
        found = duplicate_keys(conn, ["acc-1"], START, END)
    assert [(d.kind, d.key, d.count) for d in found] == [("natural_key", ("acc-1", "a"), 2)]


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
