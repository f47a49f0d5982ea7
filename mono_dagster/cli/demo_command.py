"""`mono-dagster demo`: the README's first command ends here.

Starts the Mono sandbox on loopback, backfills 30 days of its 3 accounts into the embedded database
through Dagster, prints the summary and how to open the UI on the result.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta

import click

from mono_dagster.cli.common import one_line_errors
from mono_dagster.cli.sync_flow import EMBEDDED_DAGSTER_HOME, run_sync_flow


@click.command("demo")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 365))
@click.option("--accounts", "account_count", default=3, show_default=True, type=click.IntRange(1, 50))
@click.option("--port", default=0, show_default=True, help="Sandbox port (0: any free port).")
@one_line_errors
def demo_command(days: int, account_count: int, port: int) -> None:
    """Sandbox + a 30-day backfill of 3 accounts into the embedded database, then a summary."""
    from mono_dagster.sandbox import SandboxConfig, SandboxServer, SandboxState

    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    state = SandboxState(SandboxConfig(accounts=account_count, days=days + 1, end_date=today, per_day=5))
    with SandboxServer(state, port=port) as sandbox:
        # The demo talks only to its own sandbox, whatever the shell points at.
        os.environ["MONO_BASE_URL"] = sandbox.base_url
        os.environ["MONO_SECRET_KEY"] = state.secret_key
        os.environ.pop("MONO_SECRET_KEY_FILE", None)
        click.echo(f"Mono sandbox on {sandbox.base_url} with {account_count} accounts")
        code = run_sync_flow(yesterday - timedelta(days=days - 1), yesterday)
    home = os.environ["DAGSTER_HOME"]
    click.echo("")
    click.echo("Open the UI on these runs:")
    click.echo(f"  DAGSTER_HOME={home} .venv/bin/dagster dev -w workspace.yaml")
    if home == str(EMBEDDED_DAGSTER_HOME.resolve()):
        click.echo("(the embedded instance and database live under ./.mono_dagster)")
    sys.exit(code)
