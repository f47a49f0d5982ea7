"""A backfill SIGKILLed during fetch, during canonicalise and during persist, then run again.

Each point is found by watching the database (rows in the fetch log; a backend waiting in pg_locks, or
SQLite's write lock held by a transaction a trigger keeps busy), never by sleeping. After the kill the
test checks that the point was really hit, and after the rerun that the ledger is exact, nothing is
doubled or half-written, no run is left in progress and no pool slot is held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import pytest

from mono_dagster.sandbox import FaultPlan
from mono_dagster_tests.reliability.dagster_state import (
    assert_no_run_in_progress_and_no_slot_held,
    claimed_slots,
    runs_by_id,
)
from mono_dagster_tests.reliability.ground_truth import assert_matches_ground_truth
from mono_dagster_tests.reliability.harness import (
    IN_PROGRESS,
    Backfill,
    Operator,
    PostgresHold,
    SqliteHold,
    held_for_polls,
    holds_write_lock,
    pipeline_backends,
    poll,
    write_pools_instance,
)

# Slow enough that an account's window (five pages) takes longer than a sync batch waits for more
# accounts (2 s): each account commits on its own, seconds apart, and the kill lands between two.
SLOW_MONO = FaultPlan(rate=1.0, kinds=("slow",), slow_seconds=0.5)


def fetched_accounts(operator: Operator) -> dict[str, int]:
    """run id -> accounts whose window the run has fetched."""
    engine = operator.probe()
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT run_id, count(DISTINCT account_id) FROM mono_fetches GROUP BY run_id"
            ).all()
    finally:
        engine.dispose()
    return {run_id: int(count) for run_id, count in rows}


def the_killed_run(operator: Operator) -> str:
    """The run the kill interrupted: the one the instance still shows in progress (its process is gone)."""
    in_progress = [run.run_id for run in runs_by_id(operator).values() if run.status in IN_PROGRESS]
    assert len(in_progress) == 1, f"expected one interrupted run, found {in_progress}"
    return in_progress[0]


SHARD_OF_RUN = (
    "(SELECT a.shard FROM mono_accounts a JOIN mono_fetches f ON f.account_id = a.account_id "
    "WHERE f.run_id = :run_id LIMIT 1)"
)


def shard_size(operator: Operator, run_id: str) -> int:
    """How many accounts the run's shard has (the run fetches all of them)."""
    return operator.count("mono_accounts", f"shard = {SHARD_OF_RUN}", run_id=run_id)


def persisted_of_shard(operator: Operator, run_id: str) -> int:
    return operator.count(
        "bank_transactions",
        f"account_id IN (SELECT account_id FROM mono_accounts WHERE shard = {SHARD_OF_RUN})",
        run_id=run_id,
    )


def mid_fetch(operator: Operator) -> str | None:
    """A run that has fetched some, not all, of its shard's accounts (one query: polled often)."""
    return operator.scalar(
        "SELECT r.run_id FROM (SELECT f.run_id, min(a.shard) AS shard, count(DISTINCT f.account_id) AS fetched "
        "FROM mono_fetches f JOIN mono_accounts a ON a.account_id = f.account_id GROUP BY f.run_id) r "
        "WHERE r.fetched < (SELECT count(*) FROM mono_accounts b WHERE b.shard = r.shard) LIMIT 1"
    )


@dataclass(frozen=True)
class KillPoint:
    name: str
    stop: Callable[[Operator, Backfill], Callable[[], None]]  # waits for the point; returns the release
    verify: Callable[[Operator, str], None]  # after the kill: the point was really hit


def stop_in_fetch(operator: Operator, backfill: Backfill) -> Callable[[], None]:
    # Mono turns slow once the first shard (one account) is persisted: the next shard's three accounts.
    poll(lambda: operator.count("persisted_runs"), what="the first shard persisted", backfill=backfill)
    operator.use_faults(SLOW_MONO)
    poll(lambda: mid_fetch(operator), what="a run with some of its accounts in the fetch log", backfill=backfill)
    return lambda: None


def verify_in_fetch(operator: Operator, run_id: str) -> None:
    fetched, size = fetched_accounts(operator).get(run_id, 0), shard_size(operator, run_id)
    assert 0 < fetched < size, f"killed after {fetched} of the shard's {size} accounts: not mid-fetch"
    assert persisted_of_shard(operator, run_id) == 0


def stop_at_first_write(table: str) -> Callable[[Operator, Backfill], Callable[[], None]]:
    """Holds `table` before the backfill starts and waits until a transaction of the backfill is stuck
    writing it (Postgres: waiting in pg_locks; SQLite: holding the write lock for many polls)."""

    def stop(operator: Operator, backfill: Backfill) -> Callable[[], None]:
        if operator.is_postgres:
            hold: PostgresHold | SqliteHold = PostgresHold(operator, table)
            pid = poll(hold.waiting_backend, what=f"a backend waiting to write {table}", backfill=backfill)
            if table == "persisted_runs":
                assert holds_write_lock(operator, pid, "bank_transactions"), "persist waits before its upsert"
        else:
            hold = SqliteHold(operator, table)
            sqlite_hold = hold
            # Persist is the transaction that holds the lock long once the stage is committed.
            staged = (lambda: operator.count("canonical_transactions") > 0) if table == "persisted_runs" else None
            poll(
                held_for_polls(lambda: (staged is None or staged()) and sqlite_hold.write_lock_held()),
                what=f"a transaction writing {table}",
                backfill=backfill,
            )
        return hold.release

    return stop


def verify_in_canonicalise(operator: Operator, run_id: str) -> None:
    # The batch in flight (raw pages, quarantine, fetch log, stage) commits together or not at all.
    for table in ("mono_fetches", "mono_raw_pages", "canonical_transactions", "quarantined_transactions"):
        assert operator.count(table, "run_id = :run_id", run_id=run_id) == 0, f"{table} kept a half-written batch"
    assert operator.count("bank_transactions") == 0


def verify_in_persist(operator: Operator, run_id: str) -> None:
    assert operator.count("canonical_transactions", "run_id = :run_id", run_id=run_id) > 0, "nothing was staged"
    assert operator.count("persisted_runs", "run_id = :run_id", run_id=run_id) == 0
    assert persisted_of_shard(operator, run_id) == 0, "a half-written persist was committed"


POINTS = {
    "fetch": KillPoint("fetch", stop_in_fetch, verify_in_fetch),
    # The stage's write of canonicalise (quarantine written, stage under way, nothing committed).
    "canonicalise": KillPoint("canonicalise", stop_at_first_write("canonical_transactions"), verify_in_canonicalise),
    # Persist after its upsert, at the persist ledger's row (its last writes), transaction open.
    "persist": KillPoint("persist", stop_at_first_write("persisted_runs"), verify_in_persist),
}


@pytest.mark.parametrize(
    ("point", "instance_kind"),
    [("fetch", "pools"), ("canonicalise", "embedded"), ("persist", "pools")],
)
def test_a_backfill_killed_mid_run_is_repaired_by_the_next_one(operator: Operator, point: str, instance_kind: str):
    if instance_kind == "pools":
        write_pools_instance(operator.dagster_home)
    kill_point = POINTS[point]
    backfill = operator.start_backfill()
    release = kill_point.stop(operator, backfill)
    backfill.kill()
    release()
    if operator.is_postgres:  # the killed client's backend ends once it finds its client gone
        poll(lambda: pipeline_backends(operator) == 0, what="the killed backfill's connections to close")
    killed = the_killed_run(operator)
    kill_point.verify(operator, killed)
    if point == "fetch" and instance_kind == "pools":
        assert claimed_slots(operator)["claimed"] == {killed}, "the killed fetch held the pool's only slot"

    operator.use_faults(FaultPlan())
    operator.backfill()

    assert_matches_ground_truth(operator.state, operator.probe(), operator.start, operator.end)
    assert operator.count("canonical_transactions") == 0, "stage rows of a dead run were left behind"
    assert operator.count("quarantined_transactions") == 0
    runs = assert_no_run_in_progress_and_no_slot_held(operator)
    assert runs[killed].status == dg.DagsterRunStatus.FAILURE, "the killed run is recorded as failed"
    rerun = [run for run_id, run in runs.items() if run_id != killed]
    assert len(rerun) >= 3 and all(run.status == dg.DagsterRunStatus.SUCCESS for run in rerun), [
        (run.run_id[:8], run.status.value) for run in rerun
    ]
