"""Fixtures of the storage tests: a migrated database (SQLite and Postgres) and its engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from mono_dagster.storage.engine import create_db_engine, dispose_engines
from mono_dagster.storage.migrate import upgrade_database


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    # Engines are cached per URL; closing their pools after each test keeps Postgres' connection
    # count flat and lets the fixture drop the test's schema.
    yield
    dispose_engines()


@pytest.fixture()
def engine(database_url: str) -> Engine:
    """An engine on a database migrated to head, on SQLite and on Postgres in turn."""
    upgrade_database(database_url)
    return create_db_engine(database_url)
