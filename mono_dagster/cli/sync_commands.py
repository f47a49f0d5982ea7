"""`mono-dagster backfill`, `resync` and `smoke`: materialise the pipeline through Dagster from a terminal."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta

import click

from mono_dagster.cli.common import one_line_errors, parse_day
from mono_dagster.cli.sync_flow import run_sync_flow


@click.command("backfill")
@click.option("--start", required=True, callback=parse_day, help="First UTC day, YYYY-MM-DD.")
@click.option("--end", required=True, callback=parse_day, help="Last UTC day (inclusive), YYYY-MM-DD.")
@click.option("--account", "accounts", multiple=True, help="Only this Mono account id (repeatable).")
@one_line_errors
def backfill_command(start: date, end: date, accounts: tuple[str, ...]) -> None:
    """Register accounts (given, or all that GET /v2/accounts lists) and sync the window, one run per shard."""
    sys.exit(run_sync_flow(start, end, accounts))


@click.command("resync")
@click.option("--account", "accounts", required=True, multiple=True, help="Mono account id (repeatable; at least one).")
@click.option("--start", required=True, callback=parse_day, help="First UTC day, YYYY-MM-DD.")
@click.option("--end", required=True, callback=parse_day, help="Last UTC day (inclusive), YYYY-MM-DD.")
@one_line_errors
def resync_command(accounts: tuple[str, ...], start: date, end: date) -> None:
    """Re-fetch these accounts' window and upsert it: one run per shard they are on, only these accounts."""
    sys.exit(run_sync_flow(start, end, accounts))


@click.command("smoke")
@click.option("--days", default=3, show_default=True, type=click.IntRange(1, 90), help="Days ending yesterday (UTC).")
@one_line_errors
def smoke_command(days: int) -> None:
    """Staging smoke run: the full pipeline for a recent window, then an integrity summary per account."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    sys.exit(run_sync_flow(yesterday - timedelta(days=days - 1), yesterday))
