"""`mono-dagster accounts update`: moving accounts between tenants and statuses, as an operator does."""

from __future__ import annotations

import sqlalchemy as sa

from mono_dagster.storage.engine import create_db_engine
from mono_dagster.storage.tables import mono_accounts
from mono_dagster_tests.cli.test_sync_commands import operator_env, run_cli  # noqa: F401


def registry(database_url: str) -> dict[str, tuple[str, str]]:
    with create_db_engine(database_url).connect() as conn:
        rows = conn.execute(sa.select(mono_accounts.c.account_id, mono_accounts.c.tenant, mono_accounts.c.status))
        return {row.account_id: (row.tenant, row.status) for row in rows}


def test_update_moves_accounts_to_a_tenant_and_a_status(sandbox, operator_env):  # noqa: F811
    first, second, third = sandbox.state.account_ids()[:3]
    assert run_cli("accounts", "add", first, second, third, env=operator_env).returncode == 0

    moved = run_cli("accounts", "update", first, second, "--tenant", "tenant-a", env=operator_env)
    assert moved.returncode == 0, moved.stderr
    assert "2 account(s) updated: tenant tenant-a" in moved.stdout
    paused = run_cli("accounts", "update", second, "--status", "paused", env=operator_env)
    assert paused.returncode == 0, paused.stderr

    assert registry(operator_env["MONO_DAGSTER_DB_URL"]) == {
        first: ("tenant-a", "active"),
        second: ("tenant-a", "paused"),
        third: ("default", "active"),
    }
    listed = run_cli("accounts", "list", "--status", "paused", env=operator_env)
    assert second in listed.stdout and first not in listed.stdout


def test_an_unknown_account_changes_nothing_and_is_one_line(sandbox, operator_env):  # noqa: F811
    known = sandbox.state.account_ids()[0]
    assert run_cli("accounts", "add", known, env=operator_env).returncode == 0
    failed = run_cli("accounts", "update", known, "0nonexistent0", "--tenant", "tenant-b", env=operator_env)
    assert failed.returncode == 2
    assert failed.stderr.strip() == "error: account '0nonexistent0' is not registered in mono_accounts"
    assert registry(operator_env["MONO_DAGSTER_DB_URL"])[known] == ("default", "active"), "one transaction"
    nothing = run_cli("accounts", "update", known, env=operator_env)
    assert nothing.returncode == 2 and "give --tenant and/or --status" in nothing.stderr
