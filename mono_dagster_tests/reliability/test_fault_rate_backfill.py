"""A backfill through a Mono that fails a quarter of its requests (429 with and without Retry-After, 5xx,
slow answers, 200s whose body is cut off) persists exactly what Mono holds; running it again through the
same faults changes nothing."""

from __future__ import annotations

from collections import Counter

from mono_dagster.sandbox import FaultPlan
from mono_dagster.sandbox.faults import FAULT_KINDS
from mono_dagster_tests.reliability.dagster_state import assert_no_run_in_progress_and_no_slot_held
from mono_dagster_tests.reliability.ground_truth import assert_matches_ground_truth, ledger_snapshot
from mono_dagster_tests.reliability.harness import Operator

# Every kind once first (so each is served whatever the random draws), then 25% at random.
FAULTS = FaultPlan(seed=12, rate=0.25, kinds=FAULT_KINDS, script=list(FAULT_KINDS), slow_seconds=0.2)


def served_faults(operator: Operator, path_suffix: str = "") -> Counter[str]:
    with operator.state.lock:
        return Counter(r.fault for r in operator.state.request_log if r.fault and r.path.endswith(path_suffix))


def test_a_quarter_of_requests_failing_persists_exactly_and_a_rerun_changes_nothing(operator: Operator):
    operator.use_faults(FAULTS)
    operator.backfill()

    assert set(served_faults(operator)) == set(FAULT_KINDS), served_faults(operator)
    pages = operator.state.request_count("/v2/accounts/")
    on_pages = served_faults(operator, "/transactions")
    assert on_pages["truncated"] and sum(on_pages.values()) >= pages // 8, (on_pages, pages)
    probe = operator.probe()
    assert_matches_ground_truth(operator.state, probe, operator.start, operator.end)
    before = ledger_snapshot(probe)
    assert before.change_count_total == 0 and not before.quarantine

    faults_before = sum(served_faults(operator).values())
    operator.backfill()  # through the same fault plan, which goes on drawing faults

    assert sum(served_faults(operator).values()) > faults_before, "the rerun met no fault"
    assert ledger_snapshot(probe) == before, "the rerun changed the ledger or the quarantine"
    assert operator.count("canonical_transactions") == 0
    assert_no_run_in_progress_and_no_slot_held(operator)
