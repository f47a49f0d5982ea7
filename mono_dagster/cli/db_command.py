"""`mono-dagster db upgrade | current`: Alembic migrations of the pipeline's database."""

from __future__ import annotations

import click

from mono_dagster.cli.common import one_line_errors
from mono_dagster.storage.engine import describe_url, resolve_database_url
from mono_dagster.storage.migrate import current_revision, upgrade_database


@click.group("db")
def db_group() -> None:
    """The pipeline's database (MONO_DAGSTER_DB_URL, else embedded SQLite)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@one_line_errors
def upgrade_command(revision: str) -> None:
    """Apply migrations up to REVISION."""
    url = resolve_database_url()
    upgrade_database(url, revision)
    click.echo(f"{describe_url(url)} is at revision {current_revision(url)}")


@db_group.command("current")
@one_line_errors
def current_command() -> None:
    """Print the database's current revision."""
    url = resolve_database_url()
    click.echo(f"{describe_url(url)} is at revision {current_revision(url) or '(empty)'}")
