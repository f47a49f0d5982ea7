"""The pipeline's Postgres connection terminated (`pg_terminate_backend`) in the middle of persist: the
backfill ends with one clear line naming what failed, the ledger is exactly as before, and the next
backfill lands exactly what Mono holds."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from mono_dagster.defs.partitions import SHARD_COUNT
from mono_dagster.storage.accounts import shard_for
from mono_dagster_tests.reliability.dagster_state import assert_no_run_in_progress_and_no_slot_held
from mono_dagster_tests.reliability.ground_truth import assert_matches_ground_truth, ledger_snapshot
from mono_dagster_tests.reliability.harness import Operator, PostgresHold, holds_write_lock, poll


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_connection_terminated_mid_persist_fails_clearly_and_changes_nothing(operator: Operator):
    operator.backfill()
    # Mono changes one row and adds one on the first shard's account, so the persist that is cut off
    # (the first run's) has something to write.
    account = min(operator.state.account_ids(), key=lambda account_id: shard_for(account_id, SHARD_COUNT))
    changed = operator.state.transactions(account, operator.start, operator.end)[0]
    operator.state.update_transaction(account, changed["id"], amount=changed["amount"] + 100)
    operator.state.add_transaction(
        account,
        date=datetime.combine(operator.end, time(12), UTC),
        amount=4200,
        type="credit",
        narration="ARRIVED LATE",
    )
    probe = operator.probe()
    before = ledger_snapshot(probe)
    persisted_runs = operator.count("persisted_runs")

    hold = PostgresHold(operator, "persisted_runs")
    backfill = operator.start_backfill()
    try:
        pid = poll(hold.waiting_backend, what="a persist waiting to write persisted_runs", backfill=backfill)
        assert holds_write_lock(operator, pid, "bank_transactions"), "persist waits before its upsert"
        assert operator.scalar("SELECT pg_terminate_backend(:pid)", pid=pid)
    finally:
        hold.release()
    done = backfill.wait()

    assert done.returncode == 1, done.describe()
    failures = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if "FAILED" in line]
    assert len(failures) == 1, done.describe()
    assert "bank_transactions" in failures[0] and "terminat" in failures[0], failures[0]
    assert "Traceback" not in done.stderr, done.stderr
    assert ledger_snapshot(probe) == before, "the interrupted persist changed the ledger"
    # The other shards' runs persisted (nothing new for them); the interrupted one recorded nothing.
    assert operator.count("persisted_runs") == persisted_runs + 2

    operator.backfill()

    assert_matches_ground_truth(operator.state, probe, operator.start, operator.end)
    assert (
        operator.count(
            "bank_transactions",
            "provider_transaction_id = :id AND change_count = 1 AND amount_minor = :amount",
            id=changed["id"],
            amount=changed["amount"] + 100,
        )
        == 1
    ), "the change lands once, on the rerun"
    assert operator.count("canonical_transactions") == 0, "the failed run's stage was left behind"
    assert_no_run_in_progress_and_no_slot_held(operator)
