"""Migrations: the hand-written revisions build exactly `tables.metadata`, and rerunning is a no-op."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mono_dagster.storage.bank_transactions import persist_staged
from mono_dagster.storage.engine import create_db_engine
from mono_dagster.storage.migrate import (
    MIGRATIONS_FOLDER,
    VERSION_TABLE,
    SchemaNotCurrentError,
    alembic_config,
    current_revision,
    ensure_schema_current,
    head_revision,
    upgrade_database,
)
from mono_dagster.storage.tables import bank_transactions, canonical_transactions, metadata
from mono_dagster_tests.storage.builders import NOW, canonical_row, daily_rows


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


def _bank_rows(conn: sa.Connection) -> list[tuple]:
    return sorted(tuple(row) for row in conn.execute(sa.text("SELECT * FROM bank_transactions")))


def _insert_persisted(conn: sa.Connection, rows: list[dict]) -> None:
    ledger = {"first_seen_run_id": "run-0", "last_changed_run_id": "run-0", "correlation_id": "c"}
    conn.execute(sa.insert(bank_transactions), [{**row, **ledger} for row in rows])


def _downgrade(url: str, revision: str) -> None:
    config = alembic_config(url)
    with create_db_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_0005_rekeys_bank_transactions_keeping_every_row_and_downgrades(database_url):
    upgrade_database(database_url, "0004")
    engine = create_db_engine(database_url)
    rows = daily_rows("acc-1", days=3) + daily_rows("acc-2", days=2)
    with engine.begin() as conn:
        # At 0004 there is no count table; the columns are the same, so the current tables' types serve.
        _insert_persisted(conn, rows)
        conn.execute(sa.insert(canonical_transactions), [{"run_id": "run-1", **rows[0]}])
        before = _bank_rows(conn)
    upgrade_database(database_url)
    assert _differences(database_url) == []
    with engine.connect() as conn:
        assert _bank_rows(conn) == before
        assert sa.inspect(conn).get_pk_constraint("bank_transactions")["constrained_columns"] == ["transaction_id"]
        assert conn.execute(sa.text("SELECT count(*) FROM canonical_transactions")).scalar_one() == 1
    # A stage left by 0004 has no recorded count: persist takes it as it is.
    with engine.begin() as conn:
        stats = persist_staged(conn, "run-1", correlation_id="c", complete_windows=[], now=NOW)
    assert (stats.inserted, stats.unchanged) == (0, 1)
    _downgrade(database_url, "0004")
    with engine.connect() as conn:
        assert _bank_rows(conn) == before
        inspector = sa.inspect(conn)
        assert inspector.get_pk_constraint("bank_transactions")["constrained_columns"] == [
            "provider",
            "account_id",
            "provider_transaction_id",
        ]
        assert [c["column_names"] for c in inspector.get_unique_constraints("bank_transactions")] == [
            ["transaction_id"]
        ]
        assert "canonical_stage_counts" not in inspector.get_table_names()
        if conn.dialect.name == "postgresql":
            persistence = "SELECT relpersistence FROM pg_class WHERE oid = to_regclass('canonical_transactions')"
            assert conn.execute(sa.text(persistence)).scalar_one() == "p"
    upgrade_database(database_url)
    assert _differences(database_url) == []


def test_0005_downgrade_refuses_two_rows_with_one_natural_key(database_url):
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    row = canonical_row()
    twin = {**row, "transaction_id": "00000000-0000-5000-8000-000000000000"}  # a wrongly derived id
    with engine.begin() as conn:
        _insert_persisted(conn, [row, twin])
    with pytest.raises(sa.exc.IntegrityError):
        _downgrade(database_url, "0004")
    assert current_revision(database_url) == head_revision()
    with engine.connect() as conn:
        assert len(_bank_rows(conn)) == 2
