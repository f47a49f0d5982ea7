"""Alembic environment for the pipeline's database (not Dagster's own storage).

`storage.migrate` is the usual entry point: it passes an open connection in `config.attributes`.
Run from the alembic CLI (`alembic -c mono_dagster/storage/migrations/alembic.ini ...`), the URL is
`MONO_DAGSTER_DB_URL` or the embedded SQLite default, as for the pipeline.
"""

from __future__ import annotations

from alembic import context

from mono_dagster.storage.engine import create_db_engine, resolve_database_url
from mono_dagster.storage.tables import metadata

# Our own version table: the database may also hold Dagster's storage, which uses `alembic_version`.
VERSION_TABLE = "mono_dagster_alembic_version"

config = context.config


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or resolve_database_url()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=metadata,
        literal_binds=True,
        version_table=VERSION_TABLE,
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    with create_db_engine(_url()).begin() as connection:
        _run_on(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
