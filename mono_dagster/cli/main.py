"""The `mono-dagster` command line."""

from __future__ import annotations

import click

from mono_dagster.cli.accounts_command import accounts_group
from mono_dagster.cli.common import configure_cli_logging
from mono_dagster.cli.db_command import db_group
from mono_dagster.cli.demo_command import demo_command
from mono_dagster.cli.events import events_group
from mono_dagster.cli.fetch_command import fetch_command
from mono_dagster.cli.sandbox_command import sandbox_command
from mono_dagster.cli.sync_commands import backfill_command, resync_command, smoke_command
from mono_dagster.cli.webhooks import webhooks_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log progress at INFO level on stderr.")
@click.option("--json-logs", is_flag=True, help="Log JSON lines on the mono-pipeline stream (for Loki) instead.")
def cli(verbose: bool, json_logs: bool) -> None:
    """mono-dagster: Mono bank transactions into TaxPoynt's canonical records, orchestrated by Dagster."""
    configure_cli_logging(verbose, json_lines=json_logs)


for command in (
    sandbox_command,
    fetch_command,
    db_group,
    accounts_group,
    backfill_command,
    resync_command,
    smoke_command,
    demo_command,
    webhooks_group,
    events_group,
):
    cli.add_command(command)
