"""Database URL resolution and engine set-up for SQLite (embedded) and Postgres."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from mono_dagster.storage.engine import create_db_engine, describe_url, resolve_database_url


def test_configured_url_wins_and_postgres_urls_use_psycopg3():
    for given in ("postgresql://u:p@db:5432/mono", "postgres://u:p@db:5432/mono"):
        resolved = resolve_database_url({"MONO_DAGSTER_DB_URL": given, "DAGSTER_HOME": "/srv/dagster"})
        assert resolved == "postgresql+psycopg://u:p@db:5432/mono"
    explicit = "postgresql+psycopg://u@db/mono"
    assert resolve_database_url({"MONO_DAGSTER_DB_URL": explicit}) == explicit


def test_without_a_url_the_database_is_a_sqlite_file_under_dagster_home(tmp_path):
    assert resolve_database_url({"DAGSTER_HOME": str(tmp_path)}) == f"sqlite:///{tmp_path / 'mono_dagster.sqlite'}"


def test_without_dagster_home_the_database_is_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = resolve_database_url({})
    assert url == "sqlite:///./.mono_dagster/mono_dagster.sqlite"
    assert (tmp_path / ".mono_dagster").is_dir()


def test_describe_url_hides_the_password():
    described = describe_url("postgresql+psycopg://mono:s3cr%40t@db.internal:5432/mono")
    assert "s3cr" not in described
    assert described == "postgresql+psycopg://mono:***@db.internal:5432/mono"
    assert describe_url("sqlite:///x.sqlite") == "sqlite:///x.sqlite"


def test_engines_are_shared_per_url(sqlite_database_url):
    assert create_db_engine(sqlite_database_url) is create_db_engine(sqlite_database_url)


def test_sqlite_engine_uses_wal_foreign_keys_and_a_busy_timeout(sqlite_database_url):
    with create_db_engine(sqlite_database_url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000


def test_sqlite_transactions_roll_back_ddl_too(sqlite_database_url):
    # The sqlite3 module would autocommit DDL; the engine takes transaction control back.
    engine = create_db_engine(sqlite_database_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with engine.connect() as conn:
        assert "scratch" not in sa.inspect(conn).get_table_names()
    assert Path(sqlite_database_url.removeprefix("sqlite:///")).exists()


@pytest.mark.postgres
def test_postgres_engine_pre_pings_its_pool(postgres_database_url):
    engine = create_db_engine(postgres_database_url.replace("postgresql+psycopg://", "postgresql://"))
    assert engine.pool._pre_ping
    assert engine.dialect.driver == "psycopg"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select 1").scalar() == 1
