"""What `backfill`, `resync`, `smoke` and `demo` share: register accounts, run the shards, summarise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import click

from mono_dagster.cli.common import client_from_environment
from mono_dagster.cli.tables import render_table
from mono_dagster.mono import DateWindow
from mono_dagster.pipeline.accounts import add_accounts, discover_accounts
from mono_dagster.pipeline.integrity import integrity_summary
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import list_accounts
from mono_dagster.storage.engine import create_db_engine, describe_url, resolve_database_url
from mono_dagster.storage.migrate import ensure_schema_current

EMBEDDED_DAGSTER_HOME = Path(".mono_dagster") / "dagster_home"
EXIT_CHECK_FAILED = 1


def run_sync_flow(start: date, end: date, account_ids: Sequence[str] = ()) -> int:
    """Registers the accounts (given, or discovered), syncs their shards over the window; returns the exit code."""
    from mono_dagster.defs.launch import ShardRun, ensure_dagster_home, run_shards

    window = DateWindow(start, end)
    settings = Settings.from_env()
    home = ensure_dagster_home(EMBEDDED_DAGSTER_HOME)
    url = resolve_database_url()
    ensure_schema_current(url, upgrade=url.startswith("sqlite"))
    engine = create_db_engine(url)
    click.echo(f"Dagster instance: {home}")
    click.echo(f"database:         {describe_url(url)}")
    with client_from_environment(settings) as client:
        if account_ids:
            registration = add_accounts(client, engine, account_ids, shard_count=settings.shard_count)
        else:
            registration = discover_accounts(client, engine, shard_count=settings.shard_count)
    with engine.connect() as conn:
        rows = list_accounts(conn, account_ids=[record.account_id for record in registration.records])
    if not rows:
        click.echo("no active accounts to sync")
        return 0
    shards = sorted({row.shard for row in rows})
    click.echo(
        f"{len(rows)} active account(s) ({len(registration.new_ids)} newly registered) in {len(shards)} shard(s); "
        f"syncing {window} ({window.days} days)"
    )

    def progress(run: ShardRun) -> None:
        passed = sum(check.passed for check in run.checks)
        state = "succeeded" if run.success else f"FAILED ({run.error})"
        click.echo(f"  shard {run.shard:>2}: run {run.run_id[:8]} {state}; {passed}/{len(run.checks)} checks passed")

    runs = run_shards(start, end, shards, accounts=list(account_ids), on_run=progress)
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
