"""What `backfill`, `resync`, `smoke` and `demo` share: register accounts, run the shards, summarise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import click

from mono_dagster.cli.common import client_from_environment
from mono_dagster.cli.tables import render_table
from mono_dagster.mono import DateWindow
from mono_dagster.mono.account_ids import validate_account_ids
from mono_dagster.pipeline.accounts import accounts_by_shard, add_accounts, discover_accounts
from mono_dagster.pipeline.integrity import integrity_summary
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import AccountRow, list_accounts
from mono_dagster.storage.engine import create_db_engine, describe_url, resolve_database_url
from mono_dagster.storage.migrate import ensure_schema_current

EMBEDDED_DAGSTER_HOME = Path(".mono_dagster") / "dagster_home"
EXIT_CHECK_FAILED = 1


def run_sync_flow(start: date, end: date, account_ids: Sequence[str] = ()) -> int:
    """Registers the accounts (given, or discovered), syncs their shards over the window; returns the exit code.

    Given accounts are checked before any run starts: a malformed id before any request to Mono, an id
    Mono does not know or a paused one before anything is synced. Each shard's run then gets only that
    shard's accounts (a run refuses accounts of other shards), and shards without any get no run.
    """
    from mono_dagster.defs.launch import ShardRun, ensure_dagster_home, run_shards

    wanted = validate_account_ids(account_ids)
    window = DateWindow(start, end)
    settings = Settings.from_env()
    home = ensure_dagster_home(EMBEDDED_DAGSTER_HOME)
    url = resolve_database_url()
    ensure_schema_current(url, upgrade=url.startswith("sqlite"))
    engine = create_db_engine(url)
    click.echo(f"Dagster instance: {home}")
    click.echo(f"database:         {describe_url(url)}")
    with client_from_environment(settings) as client:
        if wanted:
            registration = add_accounts(client, engine, wanted, shard_count=settings.shard_count)
        else:
            registration = discover_accounts(client, engine, shard_count=settings.shard_count)
    with engine.connect() as conn:
        found = list_accounts(conn, statuses=None, account_ids=[record.account_id for record in registration.records])
    if wanted:
        refuse_inactive(wanted, found)
    rows = [row for row in found if row.status == "active"]
    if not rows:
        click.echo("no active accounts to sync")
        return 0
    by_shard = accounts_by_shard(rows)
    shards = sorted(by_shard)
    click.echo(
        f"{len(rows)} active account(s) ({len(registration.new_ids)} newly registered) in {len(shards)} shard(s); "
        f"syncing {window} ({window.days} days)"
    )

    def progress(run: ShardRun) -> None:
        passed = sum(check.passed for check in run.checks)
        state = "succeeded" if run.success else f"FAILED ({run.error})"
        click.echo(f"  shard {run.shard:>2}: run {run.run_id[:8]} {state}; {passed}/{len(run.checks)} checks passed")

    runs = run_shards(start, end, shards, accounts_by_shard=by_shard if wanted else None, on_run=progress)
    summary = integrity_summary(engine, [run.run_id for run in runs], [row.account_id for row in rows], window)
    click.echo("")
    click.echo(
        render_table(
            ["account", "status", "fetched", "persisted", "quarantined", "duplicates", "balance breaks"],
            [
                [
                    s.account_id,
                    s.status,
                    s.fetched,
                    s.persisted,
                    s.quarantined,
                    s.duplicates,
                    s.balance_breaks,
                ]
                for s in summary
            ],
        )
    )
    failed = [(run, check) for run in runs for check in run.failed_checks]
    for run, check in failed:
        click.echo(f"check failed: {check.asset}:{check.check} ({check.severity}) in run {run.run_id}", err=True)
    if failed or not all(run.success for run in runs):
        return EXIT_CHECK_FAILED
    return 0


def refuse_inactive(wanted: Sequence[str], rows: Sequence[AccountRow]) -> None:
    """Named accounts that are paused (or missing from the registry) stop the command before any run."""
    by_id = {row.account_id: row for row in rows}
    problems = []
    for account_id in wanted:
        row = by_id.get(account_id)
        if row is None:
            problems.append(f"{account_id} is not registered")
        elif row.status != "active":
            fix = f"mono-dagster accounts update {account_id} --status active"
            problems.append(f"{account_id} is {row.status}, not active (`{fix}`)")
    if problems:
        raise ValueError("nothing was synced: " + "; ".join(problems))
