"""What a Dagster instance says after a crash: runs still in progress, and pool slots still claimed."""

from __future__ import annotations

import dagster as dg

from mono_dagster_tests.reliability.harness import IN_PROGRESS, MONO_POOL, Operator


def runs_by_id(operator: Operator) -> dict[str, dg.DagsterRun]:
    with operator.instance() as instance:
        return {run.run_id: run for run in instance.get_runs()}


def claimed_slots(operator: Operator) -> dict[str, set[str]]:
    """Pool slots claimed and steps waiting for one, by run id (empty when nothing is held)."""
    with operator.instance() as instance:
        info = instance.event_log_storage.get_concurrency_info(MONO_POOL)
    return {"claimed": info.active_run_ids, "pending": info.pending_run_ids}


def assert_no_run_in_progress_and_no_slot_held(operator: Operator) -> dict[str, dg.DagsterRun]:
    runs = runs_by_id(operator)
    stuck = {run_id: run.status.value for run_id, run in runs.items() if run.status in IN_PROGRESS}
    assert not stuck, f"runs left in progress: {stuck}"
    slots = claimed_slots(operator)
    assert slots == {"claimed": set(), "pending": set()}, f"pool {MONO_POOL} slots still held: {slots}"
    return runs
