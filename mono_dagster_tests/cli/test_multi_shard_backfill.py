"""`backfill` and `resync` naming accounts on three different shards, as an operator runs them: the CLI as
a subprocess, a sandbox over real HTTP, a fresh Dagster instance, SQLite and Postgres (issue 12)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa

from mono_dagster.storage.engine import create_db_engine
from mono_dagster_tests.cli.test_sync_commands import days, operator_env, run_cli  # noqa: F401
from mono_dagster_tests.multi_shard import (
    ground_truth,
    one_account_per_shard,
    persisted,
    recorded_runs,
    run_accounts,
    sandbox,  # noqa: F401 (six accounts, several per shard)
    shard_filters,
    summary,
    transactions_requested,
)


def account_args(accounts: list[str]) -> list[str]:
    return [arg for account in accounts for arg in ("--account", account)]


def registered(database_url: str) -> dict[str, str]:
    with create_db_engine(database_url).connect() as conn:
        return dict(conn.execute(sa.text("select account_id, status from mono_accounts")).all())


def test_a_backfill_of_accounts_on_three_shards_persists_exactly_their_ledgers(sandbox, operator_env):  # noqa: F811
    start, end = days(5)
    by_shard = one_account_per_shard(sandbox.state, 3)
    chosen = list(by_shard.values())
    done = run_cli("backfill", "--start", start, "--end", end, *account_args(chosen), env=operator_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 active account(s) (3 newly registered) in 3 shard(s)" in done.stdout
    assert done.stdout.count(" ok ") == 3, done.stdout
    url = operator_env["MONO_DAGSTER_DB_URL"]
    truth = ground_truth(sandbox.state, chosen, date.fromisoformat(start), date.fromisoformat(end))
    assert len(truth) == 3 * 5 * 5
    assert persisted(url) == truth, "exactly the three ledgers: every id, direction, signed amount, masked number"
    assert transactions_requested(sandbox.state) == set(chosen), "no other account of those shards was fetched"
    assert set(registered(url)) == set(chosen)
    runs = recorded_runs(Path(operator_env["DAGSTER_HOME"]))
    assert all(run.is_success for run in runs), [summary(run) for run in runs]
    assert shard_filters(runs) == {shard: [account] for shard, account in by_shard.items()}, "one run per shard"


def test_resync_takes_several_accounts_and_touches_nobody_else(sandbox, operator_env):  # noqa: F811
    start, end = days(3)
    assert run_cli("backfill", "--start", start, "--end", end, env=operator_env).returncode == 0
    by_shard = one_account_per_shard(sandbox.state, 3)
    chosen = list(by_shard.values())
    bystander = next(a for a in sandbox.state.account_ids() if a not in chosen)
    window = (date.fromisoformat(start), date.fromisoformat(end))
    changed = {}
    for account in [*chosen, bystander]:
        txn = sandbox.state.transactions(account, *window)[0]
        sandbox.state.update_transaction(account, txn["id"], amount=txn["amount"] + 100)
        changed[account] = txn["id"]
    sandbox.state.reset_request_log()
    done = run_cli("resync", *account_args(chosen), "--start", start, "--end", end, env=operator_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert transactions_requested(sandbox.state) == set(chosen)
    with create_db_engine(operator_env["MONO_DAGSTER_DB_URL"]).connect() as conn:
        query = sa.text("select account_id, provider_transaction_id from bank_transactions where change_count > 0")
        updated = dict(conn.execute(query).all())
    assert updated == {account: changed[account] for account in chosen}, "the bystander's change waits for its sync"
    resyncs = [run for run in recorded_runs(Path(operator_env["DAGSTER_HOME"])) if run_accounts(run)]
    assert shard_filters(resyncs) == {shard: [account] for shard, account in by_shard.items()}


def test_an_unknown_account_among_good_ones_stops_the_command_before_any_run(sandbox, operator_env):  # noqa: F811
    start, end = days(2)
    good = list(one_account_per_shard(sandbox.state, 3).values())
    unknown = ["ffffffffffffffffffffffff", "eeeeeeeeeeeeeeeeeeeeeeee"]
    given = [good[0], unknown[0], good[1], unknown[1], good[2]]
    done = run_cli("backfill", "--start", start, "--end", end, *account_args(given), env=operator_env)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and all(account in line for account in unknown), line
    assert not any(account in line for account in good), line
    assert registered(operator_env["MONO_DAGSTER_DB_URL"]) == {}, "all or nothing: none registered"
    assert recorded_runs(Path(operator_env["DAGSTER_HOME"])) == [], "no Dagster run started"
    assert transactions_requested(sandbox.state) == set()


def test_a_paused_account_among_good_ones_stops_the_command_before_any_run(sandbox, operator_env):  # noqa: F811
    start, end = days(2)
    good = list(one_account_per_shard(sandbox.state, 3).values())
    assert run_cli("accounts", "add", *good, env=operator_env).returncode == 0
    assert run_cli("accounts", "update", good[1], "--status", "paused", env=operator_env).returncode == 0
    done = run_cli("resync", *account_args(good), "--start", start, "--end", end, env=operator_env)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"{good[1]} is paused, not active" in line and "--status active" in line, line
    assert recorded_runs(Path(operator_env["DAGSTER_HOME"])) == []
    assert transactions_requested(sandbox.state) == set()
