"""Session fixtures that build real things: a fresh Postgres database, a SQLite file, a Mono sandbox.

Postgres tests never skip silently: in CI (``CI`` set) a missing server is a failure; elsewhere the
skip is printed loudly at the end of the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mono_dagster.sandbox import SandboxServer

POSTGRES_ADMIN_URL = os.environ.get(
    "MONO_DAGSTER_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """Admin URL of the real Postgres server; fails in CI when it is unreachable."""
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # the server is down or unreachable
        message = f"Postgres is not reachable at {POSTGRES_ADMIN_URL.split('@')[-1]}: {exc.__class__.__name__}"
        if _running_in_ci():
            pytest.fail(message + " (CI must run the Postgres suites)")
        pytest.skip("SKIPPING POSTGRES SUITE LOUDLY: " + message)
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL


@pytest.fixture(scope="session")
def postgres_database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database for this test session, dropped afterwards."""
    import sqlalchemy as sa

    name = f"mono_dagster_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = postgres_server_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture()
def sqlite_database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mono_dagster.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test that takes this runs twice: on a SQLite file and on a fresh Postgres schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mono_dagster.sqlite'}"
        return
    import sqlalchemy as sa

    base_url: str = request.getfixturevalue("postgres_database_url")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    # Every connection of this URL sees only the fresh schema, so tests never share tables.
    yield f"{base_url}?options=-csearch_path%3D{schema}"
    engine = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture()
def sandbox() -> Iterator[SandboxServer]:
    """A Mono sandbox on a free loopback port: 3 accounts x 30 days x 5 transactions a day."""
    from mono_dagster.sandbox import SandboxConfig, SandboxServer, SandboxState

    state = SandboxState(SandboxConfig(seed=7, accounts=3, days=30, per_day=5))
    with SandboxServer(state) as server:
        yield server
