"""Schema migrations in code: upgrade a database to a revision, read its revision, check it is current.

The Alembic `Config` is built here, not read from an ini file, and the scripts are found next to this
module, so migrations run the same from a checkout and from an installed wheel.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from mono_dagster.storage.engine import create_db_engine, describe_url, normalise_url

MIGRATIONS_FOLDER = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "mono_dagster_alembic_version"  # keep in step with migrations/env.py
# Postgres advisory lock key ("mono" in ASCII) so two processes never migrate at once.
_MIGRATION_LOCK_KEY = 0x6D6F6E6F

_current_urls: set[str] = set()
_current_lock = threading.Lock()


class SchemaNotCurrentError(RuntimeError):
    """The database is behind the code's migrations; the message says how to upgrade it."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_FOLDER))
    # ConfigParser interpolates `%`, and a URL-encoded password or query (`%3D`) is full of them.
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts found in {MIGRATIONS_FOLDER}")
    return head


def upgrade_database(url: str, revision: str = "head") -> None:
    """Brings the database to `revision` in one transaction; a database already there is untouched."""
    config = alembic_config(url)
    engine = create_db_engine(url)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
        # env.py runs on this connection, inside this transaction (SQLite: BEGIN IMMEDIATE).
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(url: str) -> str | None:
    """The database's revision, or None when it was never migrated."""
    with create_db_engine(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def ensure_schema_current(url: str, *, upgrade: bool) -> None:
    """Upgrades (`upgrade=True`, the embedded SQLite case) or insists the schema is already at head.

    Checked once per URL per process, since resources ask for an engine on every use.
    """
    key = normalise_url(url)
    with _current_lock:
        if key in _current_urls:
            return
        if upgrade:
            upgrade_database(url)
        else:
            found, head = current_revision(url), head_revision()
            if found != head:
                raise SchemaNotCurrentError(
                    f"database {describe_url(url)} is at schema revision {found or 'none'}, the code needs "
                    f"{head}: run `mono-dagster db upgrade` (or storage.migrate.upgrade_database) first"
                )
        _current_urls.add(key)
