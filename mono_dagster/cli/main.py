"""The `mono-dagster` command line."""

from __future__ import annotations

import click

from mono_dagster.cli.common import configure_cli_logging
from mono_dagster.cli.fetch_command import fetch_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log progress at INFO level on stderr.")
def cli(verbose: bool) -> None:
    """mono-dagster: Mono bank transactions into TaxPoynt's canonical records, orchestrated by Dagster."""
    configure_cli_logging(verbose)


cli.add_command(fetch_command)
