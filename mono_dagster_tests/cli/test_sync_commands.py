"""`backfill`, `resync`, `accounts`, `db` and `demo` as an operator runs them: subprocesses, real HTTP,
a real Dagster instance in a temporary DAGSTER_HOME, SQLite and Postgres."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from mono_dagster.sandbox import FaultPlan
from mono_dagster.storage.engine import create_db_engine, dispose_engines


def run_cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mono_dagster.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )


def days(count: int) -> tuple[str, str]:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    return (yesterday - timedelta(days=count - 1)).isoformat(), yesterday.isoformat()


@pytest.fixture()
def operator_env(sandbox, database_url, tmp_path) -> dict[str, str]:
    env = {
        "MONO_BASE_URL": sandbox.base_url,
        "MONO_SECRET_KEY": sandbox.state.secret_key,
        "MONO_DAGSTER_DB_URL": database_url,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "MONO_MAX_ATTEMPTS": "10",
    }
    upgraded = run_cli("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    yield env
    dispose_engines()


def snapshot(database_url: str) -> list[tuple]:
    with create_db_engine(database_url).connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text("select * from bank_transactions order by transaction_id"))]


def test_backfill_persists_the_sandbox_and_a_second_backfill_changes_nothing(sandbox, operator_env):
    start, end = days(4)
    first = run_cli("backfill", "--start", start, "--end", end, env=operator_env)
    assert first.returncode == 0, first.stderr
    assert "3 active account(s) (3 newly registered)" in first.stdout
    assert first.stdout.count(" ok ") == 3
    before = snapshot(operator_env["MONO_DAGSTER_DB_URL"])
    assert len(before) == 3 * 4 * 5
    second = run_cli("backfill", "--start", start, "--end", end, env=operator_env)
    assert second.returncode == 0, second.stderr
    assert snapshot(operator_env["MONO_DAGSTER_DB_URL"]) == before
    os.environ["DAGSTER_HOME"], saved = operator_env["DAGSTER_HOME"], os.environ.get("DAGSTER_HOME")
    try:
        with dg.DagsterInstance.get() as instance:
            runs = instance.get_run_records(dg.RunsFilter(tags={"mono/launched_by": "mono-dagster-cli"}))
    finally:
        if saved is None:
            os.environ.pop("DAGSTER_HOME")
        else:
            os.environ["DAGSTER_HOME"] = saved
    assert len(runs) >= 2 and all(record.dagster_run.is_success for record in runs), "runs show in the UI"


def test_resync_of_one_account_lands_the_change_and_touches_nobody_else(sandbox, operator_env):
    start, end = days(3)
    assert run_cli("backfill", "--start", start, "--end", end, env=operator_env).returncode == 0
    account = sandbox.state.account_ids()[1]
    changed = sandbox.state.transactions(
        account, datetime.fromisoformat(start).date(), datetime.fromisoformat(end).date()
    )[0]
    sandbox.state.update_transaction(account, changed["id"], amount=changed["amount"] + 100)
    sandbox.state.reset_request_log()
    done = run_cli("resync", "--account", account, "--start", start, "--end", end, env=operator_env)
    assert done.returncode == 0, done.stderr
    with create_db_engine(operator_env["MONO_DAGSTER_DB_URL"]).connect() as conn:
        amount, changes = conn.execute(
            sa.text("select amount_minor, change_count from bank_transactions where provider_transaction_id = :id"),
            {"id": changed["id"]},
        ).one()
        others = conn.execute(sa.text("select count(*) from bank_transactions where change_count > 0")).scalar_one()
    assert (amount, changes, others) == (changed["amount"] + 100, 1, 1)
    fetched = {record.path for record in sandbox.state.request_log if record.path.endswith("/transactions")}
    assert fetched == {f"/v2/accounts/{account}/transactions"}


def test_a_failed_check_makes_the_backfill_exit_1(sandbox, operator_env):
    start, end = days(2)
    account = sandbox.state.account_ids()[0]
    # The account lookup succeeds, then every transactions request of the run is refused.
    sandbox.state.set_fault_plan(FaultPlan(script=["ok", "403"]))
    done = run_cli("backfill", "--start", start, "--end", end, "--account", account, env=operator_env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "check failed: bank_transactions:all_accounts_synced" in done.stderr
    assert " failed " in done.stdout


def test_an_unknown_account_is_a_one_line_error_and_nothing_is_stored(sandbox, operator_env):
    start, end = days(2)
    done = run_cli(
        "backfill", "--start", start, "--end", end, "--account", "ffffffffffffffffffffffff", env=operator_env
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "Account not found" in done.stderr
    with create_db_engine(operator_env["MONO_DAGSTER_DB_URL"]).connect() as conn:
        assert conn.execute(sa.text("select count(*) from mono_accounts")).scalar_one() == 0


def test_accounts_list_shows_masked_numbers_only(sandbox, operator_env):
    assert run_cli("accounts", "discover", env=operator_env).returncode == 0
    listed = run_cli("accounts", "list", env=operator_env)
    assert listed.returncode == 0, listed.stderr
    for account_id in sandbox.state.account_ids():
        number = sandbox.state.account(account_id)["account_number"]
        assert account_id in listed.stdout
        assert number not in listed.stdout
        assert f"******{number[-4:]}" in listed.stdout


@pytest.mark.postgres
def test_an_unmigrated_postgres_database_is_refused_with_the_fix(sandbox, postgres_database_url, tmp_path):
    import uuid

    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(postgres_database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    start, end = days(1)
    env = {
        "MONO_BASE_URL": sandbox.base_url,
        "MONO_SECRET_KEY": sandbox.state.secret_key,
        "MONO_DAGSTER_DB_URL": f"{postgres_database_url}?options=-csearch_path%3D{schema}",
        "DAGSTER_HOME": str(tmp_path / "home"),
    }
    done = run_cli("backfill", "--start", start, "--end", end, env=env)
    assert done.returncode == 2
    assert "mono-dagster db upgrade" in done.stderr


def test_the_demo_works_in_a_fresh_directory(tmp_path):
    env = {key: "" for key in ("MONO_BASE_URL", "MONO_SECRET_KEY", "MONO_DAGSTER_DB_URL", "DAGSTER_HOME")}
    clean = {k: v for k, v in os.environ.items() if k not in env}
    done = subprocess.run(
        [sys.executable, "-m", "mono_dagster.cli", "demo", "--days", "3"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" ok ") == 3
    assert "dagster dev -w workspace.yaml" in done.stdout
    assert (tmp_path / ".mono_dagster" / "dagster_home" / "mono_dagster.sqlite").exists()


def test_smoke_runs_the_pipeline_for_a_recent_window_and_prints_integrity(sandbox, operator_env):
    done = run_cli("smoke", "--days", "2", env=operator_env)
    assert done.returncode == 0, done.stderr
    assert "fetched  persisted  quarantined  duplicates  balance breaks" in done.stdout
    assert done.stdout.count(" ok ") == 3
