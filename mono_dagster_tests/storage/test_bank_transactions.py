"""Persisting the canonical stage: idempotent upserts, change counting, missing and vanished rows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from mono_dagster.storage.bank_transactions import PersistStats, persist_staged
from mono_dagster.storage.canonical_stage import (
    StageIncompleteError,
    append_to_stage,
    rows_in_stage,
    stage_canonical,
    staged_count,
)
from mono_dagster.storage.quarantine import quarantine_rows
from mono_dagster.storage.tables import bank_transactions, canonical_transactions
from mono_dagster_tests.storage.builders import (
    NOW,
    canonical_frame,
    canonical_row,
    daily_rows,
    quarantine_frame,
    quarantine_row,
    snapshot,
)

WINDOW = ("acc-1", date(2024, 3, 1), date(2024, 3, 7))


def _persist(engine, run_id, rows, *, windows=(WINDOW,), now=NOW, quarantined=()):
    with engine.begin() as conn:
        stage_canonical(conn, run_id, canonical_frame(rows))
        if quarantined:
            quarantine_rows(
                conn,
                quarantine_frame(list(quarantined)),
                run_id=run_id,
                correlation_id=f"corr-{run_id}",
                window_start=WINDOW[1],
                window_end=WINDOW[2],
                now=now,
            )
        return persist_staged(conn, run_id, correlation_id=f"corr-{run_id}", complete_windows=list(windows), now=now)


def _rows(engine):
    with engine.connect() as conn:
        query = sa.select(bank_transactions).order_by(bank_transactions.c.provider_transaction_id)
        return {row.provider_transaction_id: row for row in conn.execute(query)}


def test_first_persist_inserts_every_staged_row(engine):
    rows = daily_rows("acc-1", days=3, per_day=2)
    stats = _persist(engine, "run-1", rows)
    assert stats == PersistStats(
        inserted=6,
        updated=0,
        unchanged=0,
        missing=0,
        vanished=0,
        amount_minor_total=sum(row["amount_minor"] for row in rows),
    )
    stored = _rows(engine)
    assert len(stored) == 6
    first = stored["acc-1-d000-00"]
    assert first.first_seen_run_id == first.last_changed_run_id == "run-1"
    assert first.correlation_id == "corr-run-1"
    assert first.change_count == 0 and first.missing_fetch_count == 0 and first.vanished_at is None
    assert first.created_at == first.updated_at == NOW


def test_persisted_values_round_trip_exactly(engine):
    row = canonical_row(amount_minor=123_456_789_012, balance_after_minor=-5, provider_category="transfer")
    _persist(engine, "run-1", [row])
    stored = _rows(engine)["txn-1"]
    for column, value in row.items():
        assert getattr(stored, column) == value, column
    assert stored.posted_at.tzinfo is not None


def test_persisting_the_same_stage_twice_changes_nothing(engine):
    rows = daily_rows("acc-1", days=5, per_day=3)
    _persist(engine, "run-1", rows)
    with engine.connect() as conn:
        before = snapshot(conn, exclude=("persisted_runs",))
    stats = _persist(engine, "run-2", rows, now=NOW + timedelta(days=1))
    assert stats == PersistStats(inserted=0, updated=0, unchanged=15, missing=0, vanished=0, amount_minor_total=0)
    with engine.connect() as conn:
        # Only the ledger learns that run-2 was persisted.
        assert snapshot(conn, exclude=("persisted_runs",)) == before


def test_unchanged_row_is_not_rewritten(engine):
    _persist(engine, "run-1", [canonical_row()])
    _persist(engine, "run-2", [canonical_row()], now=NOW + timedelta(hours=5))
    stored = _rows(engine)["txn-1"]
    assert stored.updated_at == NOW
    assert stored.last_changed_run_id == "run-1"
    assert stored.correlation_id == "corr-run-1"
    assert stored.change_count == 0


def test_changed_row_is_updated_and_counted(engine):
    _persist(engine, "run-1", [canonical_row(), canonical_row(provider_transaction_id="txn-2")])
    later = NOW + timedelta(hours=5)
    changed = canonical_row(narration="POS PURCHASE SHOPRITE LEKKI", amount_minor=175_000)
    stats = _persist(engine, "run-2", [changed, canonical_row(provider_transaction_id="txn-2")], now=later)
    assert (stats.inserted, stats.updated, stats.unchanged) == (0, 1, 1)
    assert stats.amount_minor_total == 175_000
    stored = _rows(engine)["txn-1"]
    assert stored.narration == "POS PURCHASE SHOPRITE LEKKI"
    assert stored.amount_minor == 175_000
    assert stored.content_hash == changed["content_hash"]
    assert stored.change_count == 1
    assert stored.first_seen_run_id == "run-1"
    assert stored.last_changed_run_id == "run-2"
    assert stored.correlation_id == "corr-run-2"
    assert stored.created_at == NOW and stored.updated_at == later


def test_persist_clears_the_runs_stage_only(engine):
    with engine.begin() as conn:
        stage_canonical(conn, "other-run", canonical_frame([canonical_row(provider_transaction_id="x")]))
    _persist(engine, "run-1", [canonical_row()])
    with engine.connect() as conn:
        staged = conn.execute(sa.select(canonical_transactions.c.run_id)).scalars().all()
    assert staged == ["other-run"]


def test_empty_stage_persists_nothing_but_still_counts_missing_rows(engine):
    _persist(engine, "run-1", [canonical_row()])
    stats = _persist(engine, "run-2", [])
    assert stats == PersistStats(inserted=0, updated=0, unchanged=0, missing=1, vanished=0, amount_minor_total=0)


def test_persist_retried_after_its_commit_changes_nothing(engine):
    _persist(engine, "run-1", [canonical_row(), canonical_row(provider_transaction_id="txn-2")])
    first = _persist(engine, "run-2", [canonical_row(narration="changed")], now=NOW + timedelta(days=1))
    with engine.connect() as conn:
        before = snapshot(conn)
    with engine.begin() as conn:  # the stage is gone: the retry must not count every row missing again
        again = persist_staged(
            conn, "run-2", correlation_id="corr-run-2", complete_windows=[WINDOW], now=NOW + timedelta(days=2)
        )
    assert again == PersistStats(**{**first.__dict__, "replayed": True})
    assert (again.updated, again.missing) == (1, 1)
    with engine.connect() as conn:
        assert snapshot(conn) == before


def test_row_missing_from_one_complete_fetch_is_counted_not_flagged(engine):
    _persist(engine, "run-1", [canonical_row(), canonical_row(provider_transaction_id="txn-2")])
    stats = _persist(engine, "run-2", [canonical_row()], now=NOW + timedelta(days=1))
    assert (stats.missing, stats.vanished) == (1, 0)
    stored = _rows(engine)["txn-2"]
    assert stored.missing_fetch_count == 1 and stored.vanished_at is None


def test_row_missing_from_two_complete_fetches_is_flagged_vanished_not_deleted(engine):
    _persist(engine, "run-1", [canonical_row(), canonical_row(provider_transaction_id="txn-2")])
    _persist(engine, "run-2", [canonical_row()], now=NOW + timedelta(days=1))
    flagged_at = NOW + timedelta(days=2)
    stats = _persist(engine, "run-3", [canonical_row()], now=flagged_at)
    assert (stats.missing, stats.vanished) == (1, 1)
    stored = _rows(engine)
    assert set(stored) == {"txn-1", "txn-2"}
    assert stored["txn-2"].missing_fetch_count == 2
    assert stored["txn-2"].vanished_at == flagged_at
    assert stored["txn-1"].vanished_at is None
    # Once vanished, a row is not counted again by later fetches.
    stats = _persist(engine, "run-4", [canonical_row()], now=NOW + timedelta(days=3))
    assert (stats.missing, stats.vanished) == (0, 0)
    assert _rows(engine)["txn-2"].vanished_at == flagged_at


def test_reappearing_row_clears_vanished_flag(engine):
    rows = [canonical_row(), canonical_row(provider_transaction_id="txn-2")]
    _persist(engine, "run-1", rows)
    _persist(engine, "run-2", rows[:1], now=NOW + timedelta(days=1))
    _persist(engine, "run-3", rows[:1], now=NOW + timedelta(days=2))
    assert _rows(engine)["txn-2"].vanished_at is not None
    stats = _persist(engine, "run-4", rows, now=NOW + timedelta(days=3))
    assert (stats.inserted, stats.updated, stats.unchanged, stats.missing) == (0, 0, 2, 0)
    stored = _rows(engine)["txn-2"]
    assert stored.vanished_at is None and stored.missing_fetch_count == 0
    assert stored.change_count == 0


def test_row_seen_in_quarantine_is_not_counted_missing(engine):
    _persist(engine, "run-1", [canonical_row(), canonical_row(provider_transaction_id="txn-2")])
    bad = quarantine_row(provider_transaction_id="txn-2")
    for run in ("run-2", "run-3"):  # the same bad row twice: quarantined once, seen by both runs
        stats = _persist(engine, run, [canonical_row()], now=NOW + timedelta(days=1), quarantined=[bad])
        assert (stats.missing, stats.vanished) == (0, 0)
    assert _rows(engine)["txn-2"].missing_fetch_count == 0


def test_quarantined_reappearance_clears_missing_count(engine):
    _persist(engine, "run-1", [canonical_row(), canonical_row(provider_transaction_id="txn-2")])
    _persist(engine, "run-2", [canonical_row()], now=NOW + timedelta(days=1))
    assert _rows(engine)["txn-2"].missing_fetch_count == 1
    bad = quarantine_row(provider_transaction_id="txn-2")
    _persist(engine, "run-3", [canonical_row()], now=NOW + timedelta(days=2), quarantined=[bad])
    assert _rows(engine)["txn-2"].missing_fetch_count == 0


def test_only_complete_windows_count_missing_rows(engine):
    rows = daily_rows("acc-1", days=10) + daily_rows("acc-2", days=10)
    _persist(engine, "run-1", rows, windows=[])
    # acc-1's window covers days 0-4 only; acc-2's fetch was not complete (not listed).
    window = ("acc-1", date(2024, 3, 1), date(2024, 3, 5))
    stats = _persist(engine, "run-2", [], windows=[window])
    assert stats.missing == 5
    missing = {key for key, row in _rows(engine).items() if row.missing_fetch_count}
    assert missing == {f"acc-1-d{day:03d}-00" for day in range(5)}


def test_window_bounds_are_inclusive_dates(engine):
    row_on_end = canonical_row(posted_at=NOW.replace(day=7, hour=23, minute=59))
    row_after = canonical_row(provider_transaction_id="txn-2", posted_at=NOW.replace(day=8, hour=0))
    _persist(engine, "run-1", [row_on_end, row_after], windows=[])
    stats = _persist(engine, "run-2", [], windows=[WINDOW])
    assert stats.missing == 1
    assert _rows(engine)["txn-1"].missing_fetch_count == 1


def test_overlapping_windows_count_a_row_missing_once_per_run(engine):
    _persist(engine, "run-1", [canonical_row()], windows=[])
    windows = [("acc-1", date(2024, 3, 1), date(2024, 3, 3)), ("acc-1", date(2024, 2, 28), date(2024, 3, 2))]
    stats = _persist(engine, "run-2", [], windows=windows)
    assert (stats.missing, stats.vanished) == (1, 0)


def test_error_before_commit_leaves_database_unchanged(engine):
    _persist(engine, "run-1", [canonical_row(), canonical_row(provider_transaction_id="txn-2")])
    _persist(engine, "run-2", [canonical_row()], now=NOW + timedelta(days=1))
    with engine.begin() as conn:
        stage_canonical(
            conn,
            "run-3",
            canonical_frame([canonical_row(narration="changed"), canonical_row("acc-1", "new")]),
        )
    with engine.connect() as conn:
        before = snapshot(conn)

    class Crash(Exception):
        pass

    with pytest.raises(Crash), engine.begin() as conn:
        stats = persist_staged(
            conn, "run-3", correlation_id="corr-3", complete_windows=[WINDOW], now=NOW + timedelta(days=2)
        )
        assert (stats.inserted, stats.updated, stats.vanished) == (1, 1, 1)
        raise Crash

    with engine.connect() as conn:
        assert snapshot(conn) == before
    # And the retry, from the intact stage, does exactly what the crashed attempt would have.
    with engine.begin() as conn:
        stats = persist_staged(
            conn, "run-3", correlation_id="corr-3", complete_windows=[WINDOW], now=NOW + timedelta(days=2)
        )
    assert (stats.inserted, stats.updated, stats.vanished) == (1, 1, 1)


def test_other_accounts_rows_are_never_touched(engine):
    _persist(engine, "run-1", daily_rows("acc-1", days=3) + daily_rows("acc-2", days=3), windows=[])
    with engine.connect() as conn:
        acc2_before = conn.execute(sa.select(bank_transactions).where(bank_transactions.c.account_id == "acc-2")).all()
    _persist(engine, "run-2", [], windows=[WINDOW])
    _persist(engine, "run-3", [], windows=[WINDOW])
    with engine.connect() as conn:
        acc2_after = conn.execute(sa.select(bank_transactions).where(bank_transactions.c.account_id == "acc-2")).all()
    assert acc2_after == acc2_before


def test_bulk_stage_counts_changes_and_missing_rows_like_a_small_one(engine):
    # Above the bulk threshold Postgres plans the missing-row anti-joins as hash joins: same results.
    window = ("acc-1", date(2024, 3, 1), date(2024, 3, 31))
    rows = daily_rows("acc-1", days=30, per_day=200)  # 6,000 rows
    first = _persist(engine, "run-1", rows, windows=(window,))
    assert (first.inserted, first.updated, first.missing) == (6_000, 0, 0)
    changed = [
        canonical_row("acc-1", row["provider_transaction_id"], posted_at=row["posted_at"], amount_minor=7_777)
        for row in rows[:10]
    ]
    second = _persist(engine, "run-2", [*changed, *rows[10:-5]], windows=(window,))
    assert (second.inserted, second.updated, second.unchanged, second.missing) == (0, 10, 5_985, 5)
    assert second.amount_minor_total == 10 * 7_777
    stored = _rows(engine)
    assert stored[rows[0]["provider_transaction_id"]].amount_minor == 7_777
    assert stored[rows[-1]["provider_transaction_id"]].missing_fetch_count == 1


def _lose_staged_rows(conn, run_id: str, keep: int = 0) -> None:
    """What a server crash does to the UNLOGGED stage (TRUNCATE), or part of it, behind persist's back."""
    stage = canonical_transactions
    if keep == 0 and conn.dialect.name == "postgresql":
        conn.exec_driver_sql("TRUNCATE canonical_transactions")
        return
    kept = sa.select(stage.c.transaction_id).where(stage.c.run_id == run_id).order_by(stage.c.transaction_id)
    conn.execute(
        sa.delete(stage).where(
            stage.c.run_id == run_id, stage.c.transaction_id.not_in(kept.limit(keep).scalar_subquery())
        )
    )


@pytest.mark.parametrize("keep", [0, 2])
def test_persist_refuses_a_stage_that_lost_rows_and_writes_nothing(engine, keep):
    _persist(engine, "run-1", [canonical_row(), canonical_row(provider_transaction_id="txn-2")])
    rows = [canonical_row(narration="changed"), *daily_rows("acc-1", days=3)]
    with engine.begin() as conn:
        stage_canonical(conn, "run-2", canonical_frame(rows))
    with engine.begin() as conn:
        _lose_staged_rows(conn, "run-2", keep=keep)
    with engine.connect() as conn:
        before = snapshot(conn)
    with pytest.raises(StageIncompleteError) as refused, engine.begin() as conn:
        persist_staged(conn, "run-2", correlation_id="corr-2", complete_windows=[WINDOW], now=NOW + timedelta(days=1))
    assert (refused.value.run_id, refused.value.expected, refused.value.found) == ("run-2", 4, keep)
    assert f"run run-2 holds {keep} of the 4 rows" in str(refused.value)
    assert "re-run the partition" in str(refused.value)
    with engine.connect() as conn:
        assert snapshot(conn) == before  # no row counted missing, no ledger entry, the count kept
    # The retry re-stages (the canonical step runs again) and persists exactly what was meant.
    stats = _persist(engine, "run-2", rows, now=NOW + timedelta(days=1))
    assert (stats.inserted, stats.updated, stats.unchanged, stats.missing) == (3, 1, 0, 1)


def test_a_stage_truncated_after_its_persist_committed_is_a_replay_not_an_error(engine):
    first = _persist(engine, "run-1", daily_rows("acc-1", days=3))
    with engine.connect() as conn:
        before = snapshot(conn)
    with engine.begin() as conn:
        _lose_staged_rows(conn, "run-1")  # the persist already cleared the stage and its count
        again = persist_staged(conn, "run-1", correlation_id="corr-run-1", complete_windows=[WINDOW], now=NOW)
    assert again == PersistStats(**{**first.__dict__, "replayed": True})
    with engine.connect() as conn:
        assert snapshot(conn) == before


def test_a_stage_appended_in_chunks_persists_like_one_staged_at_once(engine):
    rows = daily_rows("acc-1", days=4) + daily_rows("acc-2", days=3)
    windows = [WINDOW, ("acc-2", WINDOW[1], WINDOW[2])]
    with engine.begin() as conn:
        append_to_stage(conn, "run-1", canonical_frame(rows[:4]))
    with engine.begin() as conn:
        append_to_stage(conn, "run-1", canonical_frame(rows[4:]))
    with engine.begin() as conn:
        stats = persist_staged(conn, "run-1", correlation_id="c", complete_windows=windows, now=NOW)
        assert staged_count(conn, "run-1") is None and rows_in_stage(conn, "run-1") == 0
    assert (stats.inserted, stats.unchanged, stats.missing) == (7, 0, 0)
    assert set(_rows(engine)) == {row["provider_transaction_id"] for row in rows}
    # Rerun through chunks again: nothing changes but the ledger.
    with engine.connect() as conn:
        before = snapshot(conn, exclude=("persisted_runs",))
    with engine.begin() as conn:
        append_to_stage(conn, "run-2", canonical_frame(rows[:2]))
        append_to_stage(conn, "run-2", canonical_frame(rows[2:]))
        again = persist_staged(conn, "run-2", correlation_id="c", complete_windows=windows, now=NOW + timedelta(days=1))
    assert (again.inserted, again.updated, again.unchanged, again.missing) == (0, 0, 7, 0)
    with engine.connect() as conn:
        assert snapshot(conn, exclude=("persisted_runs",)) == before


def test_persisted_rows_are_keyed_by_transaction_id_alone(engine):
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert inspector.get_pk_constraint("bank_transactions")["constrained_columns"] == ["transaction_id"]
        assert inspector.get_unique_constraints("bank_transactions") == []
        indexes = {index["name"]: index["column_names"] for index in inspector.get_indexes("bank_transactions")}
    # Only indexes a query uses: per-account windows (missing marks, balance, duplicates, reconciliation)
    # and the partial index of rows counted missing (clearing marks of rows seen again).
    assert indexes == {
        "ix_bank_transactions_account_id_posted_date": ["account_id", "posted_date"],
        "ix_bank_transactions_missing": ["transaction_id"],
    }
