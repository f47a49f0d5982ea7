"""`python -m mono_dagster.cli` runs the `mono-dagster` command."""

from mono_dagster.cli.main import cli

cli()
