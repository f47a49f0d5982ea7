"""The fetch log: a run's complete and failed windows, latest attempt per window winning."""

from __future__ import annotations

from datetime import date

import pytest

from mono_dagster.storage.fetch_log import (
    FetchRecord,
    failed_fetches,
    fetches_for_runs,
    record_fetch,
    successful_fetches,
)
from mono_dagster_tests.storage.builders import NOW

START, END = date(2024, 3, 1), date(2024, 3, 7)


def _fetch(account_id: str, status: str = "ok", run_id: str = "run-1", **fields) -> FetchRecord:
    return FetchRecord(run_id, f"corr-{run_id}", account_id, START, END, status, **fields)


def test_successful_and_failed_windows_of_a_run(engine):
    with engine.begin() as conn:
        record_fetch(conn, _fetch("acc-2", raw_page_ids=(7, 8), transaction_count=150, requests=2), at=NOW)
        record_fetch(conn, _fetch("acc-1", "failed", error="HTTP 503 after 5 attempts"))
        record_fetch(conn, _fetch("acc-3", run_id="run-other"))
        ok = successful_fetches(conn, "run-1")
        failed = failed_fetches(conn, "run-1")
    assert [(f.account_id, f.raw_page_ids, f.transaction_count, f.requests) for f in ok] == [("acc-2", (7, 8), 150, 2)]
    assert ok[0].recorded_at == NOW and (ok[0].window_start, ok[0].window_end) == (START, END)
    assert [(f.account_id, f.error) for f in failed] == [("acc-1", "HTTP 503 after 5 attempts")]


def test_a_retried_fetch_replaces_the_earlier_attempt(engine):
    with engine.begin() as conn:
        record_fetch(conn, _fetch("acc-1", "failed", error="timeout"))
        record_fetch(conn, _fetch("acc-1", raw_page_ids=(3,)))
        record_fetch(conn, _fetch("acc-2", raw_page_ids=(4,)))
        record_fetch(conn, _fetch("acc-2", "failed", error="HTTP 500"))
        assert [(f.account_id, f.raw_page_ids) for f in successful_fetches(conn, "run-1")] == [("acc-1", (3,))]
        assert [f.account_id for f in failed_fetches(conn, "run-1")] == ["acc-2"]


def test_fetches_of_several_runs_keep_each_runs_latest_attempt(engine):
    with engine.begin() as conn:
        record_fetch(conn, _fetch("acc-1", "failed", error="timeout"))
        record_fetch(conn, _fetch("acc-1"))
        record_fetch(conn, _fetch("acc-1", "failed", run_id="run-2", error="HTTP 500"))
        record_fetch(conn, _fetch("acc-2", run_id="run-3"))
        found = fetches_for_runs(conn, ["run-1", "run-2"])
    assert [(f.account_id, f.run_id, f.status) for f in found] == [
        ("acc-1", "run-1", "ok"),
        ("acc-1", "run-2", "failed"),
    ]


def test_unknown_status_is_refused(engine):
    with engine.begin() as conn, pytest.raises(ValueError, match="fetch status"):
        record_fetch(conn, _fetch("acc-1", "partial"))
