"""Two backfills of the same accounts and days started at once: both end (one may wait for the pool's one
slot, then go on), nothing is doubled, and neither deadlocks. On Postgres both persists are held at the
door of `bank_transactions` until both wait there, then let in together: the biggest overlap two runs
can have (on SQLite every transaction takes the write lock first, so they can only take turns)."""

from __future__ import annotations

import dagster as dg

from mono_dagster_tests.reliability.dagster_state import assert_no_run_in_progress_and_no_slot_held
from mono_dagster_tests.reliability.ground_truth import assert_matches_ground_truth, ledger_snapshot
from mono_dagster_tests.reliability.harness import Operator, PostgresHold, poll, write_pools_instance


def waiting_on(operator: Operator, table: str) -> int:
    return int(
        operator.scalar(
            "SELECT count(*) FROM pg_locks WHERE relation = to_regclass(:table) AND NOT granted", table=table
        )
    )


def test_two_backfills_of_the_same_window_at_once_both_succeed_without_duplicates(operator: Operator):
    write_pools_instance(operator.dagster_home)  # one pool slot: the second fetch waits for the first
    hold = PostgresHold(operator, "bank_transactions") if operator.is_postgres else None
    try:
        first, second = operator.start_backfill(), operator.start_backfill()
        if hold is not None:
            poll(lambda: waiting_on(operator, "bank_transactions") >= 2, what="both persists at bank_transactions")
    finally:
        if hold is not None:
            hold.release()
    results = [first.wait(), second.wait()]

    for done in results:
        assert done.returncode == 0, done.describe()
        assert "deadlock" not in (done.stdout + done.stderr).lower() and "locked" not in done.stderr, done.describe()
    probe = operator.probe()
    assert_matches_ground_truth(operator.state, probe, operator.start, operator.end)
    assert ledger_snapshot(probe).change_count_total == 0, "one backfill's rows were counted as changes"
    assert operator.count("canonical_transactions") == 0
    runs = assert_no_run_in_progress_and_no_slot_held(operator)
    assert len(runs) == 6 and all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs.values())
