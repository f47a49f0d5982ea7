"""`mono-dagster fetch` as an operator runs it: a real subprocess against the sandbox over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from mono_dagster.sandbox import FaultPlan


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mono_dagster.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def window(sandbox, days: int) -> tuple[str, str]:
    end = sandbox.state.config.end_date or datetime.now(UTC).date()
    return (end - timedelta(days=days - 1)).isoformat(), end.isoformat()


def env_for(sandbox, **extra: str) -> dict[str, str]:
    return {"MONO_BASE_URL": sandbox.base_url, "MONO_SECRET_KEY": sandbox.state.secret_key, **extra}


def test_fetch_prints_exactly_the_server_transactions_when_a_quarter_of_answers_are_faults(sandbox):
    account = sandbox.state.account_ids()[0]
    start, end = window(sandbox, 30)
    sandbox.state.set_fault_plan(FaultPlan(seed=3, rate=0.25, slow_seconds=0.05, retry_after_seconds=1))
    done = run_cli(
        "fetch",
        "--account",
        account,
        "--start",
        start,
        "--end",
        end,
        "--json",
        env=env_for(sandbox, MONO_PAGE_SIZE="10", MONO_MAX_ATTEMPTS="10"),
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    served = sandbox.state.transactions(
        account, datetime.fromisoformat(start).date(), datetime.fromisoformat(end).date()
    )
    assert sorted(printed, key=lambda t: t["id"]) == sorted(served, key=lambda t: t["id"])
    faults = sum(1 for record in sandbox.state.request_log if record.fault)
    assert faults >= 3, "the fault plan must really have fired"
    assert "transactions        150" in done.stderr
    assert "retries" in done.stderr


def test_fetch_summary_without_json_names_pages_requests_and_dates(sandbox):
    account = sandbox.state.account_ids()[1]
    start, end = window(sandbox, 3)
    done = run_cli("fetch", "--account", account, "--start", start, "--end", end, env=env_for(sandbox))
    assert done.returncode == 0, done.stderr
    assert f"first date          {start}" in done.stdout
    assert f"last date           {end}" in done.stdout
    assert "requests            1" in done.stdout


def test_a_bad_key_ends_with_one_line_and_exit_code_2(sandbox):
    start, end = window(sandbox, 2)
    done = run_cli(
        "fetch",
        "--account",
        sandbox.state.account_ids()[0],
        "--start",
        start,
        "--end",
        end,
        env=env_for(sandbox, MONO_SECRET_KEY="test_sk_not_the_right_one"),
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "rejected the secret key" in done.stderr
    assert "test_sk_not_the_right_one" not in done.stderr + done.stdout


def test_an_unknown_account_ends_with_one_line_and_exit_code_2(sandbox):
    start, end = window(sandbox, 2)
    done = run_cli(
        "fetch", "--account", "ffffffffffffffffffffffff", "--start", start, "--end", end, env=env_for(sandbox)
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "ffffffffffffffffffffffff" in done.stderr and "Account not found" in done.stderr


def test_an_unreachable_host_ends_with_one_line_and_exit_code_2():
    done = run_cli(
        "fetch",
        "--account",
        "a" * 24,
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-02",
        env={"MONO_BASE_URL": "http://127.0.0.1:9", "MONO_SECRET_KEY": "test_sk_x", "MONO_MAX_ATTEMPTS": "2"},
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "cannot connect" in done.stderr


def test_a_malformed_date_is_refused_before_any_request(sandbox):
    sandbox.state.reset_request_log()
    done = run_cli("fetch", "--account", "x", "--start", "01-02-2024", "--end", "2024-02-02", env=env_for(sandbox))
    assert done.returncode == 2
    assert "YYYY-MM-DD" in done.stderr
    assert sandbox.state.request_count() == 0


def test_json_logs_are_scrubbed_json_lines_on_the_pipeline_stream(sandbox):
    start, end = window(sandbox, 2)
    secret = "test_sk_json_logs_must_not_leak"
    done = run_cli(
        "--json-logs",
        "-v",
        "fetch",
        "--account",
        sandbox.state.account_ids()[0],
        "--start",
        start,
        "--end",
        end,
        env=env_for(sandbox, MONO_SECRET_KEY=secret),
    )
    assert done.returncode == 2
    assert secret not in done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert lines, done.stderr
    assert all(line["stream"] == "mono-pipeline" for line in lines)
