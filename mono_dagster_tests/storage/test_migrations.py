"""Migrations: the hand-written revisions build exactly `tables.metadata`, and rerunning is a no-op."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mono_dagster.storage.engine import create_db_engine
from mono_dagster.storage.migrate import (
    MIGRATIONS_FOLDER,
    VERSION_TABLE,
    SchemaNotCurrentError,
    current_revision,
    ensure_schema_current,
    head_revision,
    upgrade_database,
)
from mono_dagster.storage.tables import metadata


def _differences(url: str) -> list:
    with create_db_engine(url).connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, metadata)


def _schema(url: str) -> dict:
    with create_db_engine(url).connect() as conn:
        inspector = sa.inspect(conn)
        return {
            name: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
                sorted(index["name"] for index in inspector.get_indexes(name)),
            )
            for name in sorted(inspector.get_table_names())
        }


def test_upgrade_on_an_empty_database_builds_exactly_the_metadata(database_url):
    assert current_revision(database_url) is None
    upgrade_database(database_url)
    assert _differences(database_url) == []
    assert current_revision(database_url) == head_revision()


def test_migration_creates_every_table_and_our_version_table(database_url):
    upgrade_database(database_url)
    with create_db_engine(database_url).connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert tables == {*metadata.tables, VERSION_TABLE}
    assert "alembic_version" not in tables  # Dagster's storage may share the database and owns that name


def test_running_the_upgrade_twice_is_a_no_op(database_url):
    upgrade_database(database_url)
    before = _schema(database_url)
    upgrade_database(database_url)
    assert _schema(database_url) == before
    assert current_revision(database_url) == head_revision()


def test_metadata_create_all_matches_the_migration_too(sqlite_database_url):
    # The comparison is symmetric: a metadata-built database shows no difference either.
    metadata.create_all(create_db_engine(sqlite_database_url))
    assert _differences(sqlite_database_url) == []


def test_migrations_run_from_any_working_directory(sqlite_database_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    upgrade_database(sqlite_database_url)
    assert current_revision(sqlite_database_url) == head_revision()
    assert MIGRATIONS_FOLDER.is_absolute() and (MIGRATIONS_FOLDER / "env.py").exists()


@pytest.mark.postgres
def test_url_with_percent_escapes_is_passed_through(postgres_database_url):
    # The Postgres fixture URLs carry `%3D`; ConfigParser would choke on an unescaped `%`.
    url = f"{postgres_database_url}?application_name=mono%20dagster"
    upgrade_database(url)
    assert current_revision(url) == head_revision()


def test_ensure_schema_current_refuses_an_unmigrated_database(database_url):
    with pytest.raises(SchemaNotCurrentError, match="mono-dagster db upgrade"):
        ensure_schema_current(database_url, upgrade=False)
    ensure_schema_current(database_url, upgrade=True)
    ensure_schema_current(database_url, upgrade=False)
    assert current_revision(database_url) == head_revision()
