"""Fixtures of the reliability matrix: a small sandbox whose accounts span three shards, and an operator
(pipeline database on SQLite and Postgres, a Dagster home, the window) to run `mono-dagster backfill` in."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mono_dagster.sandbox import SandboxServer, SandboxState
from mono_dagster.storage.engine import dispose_engines
from mono_dagster.storage.migrate import upgrade_database
from mono_dagster_tests.reliability.harness import PAGE_SIZE, SANDBOX, Operator, window

SHARED_MEMORY = Path("/dev/shm")


@pytest.fixture()
def matrix_sandbox() -> Iterator[SandboxServer]:
    """Six accounts of seed 7 on shards 0, 1 and 4 (one, three and two accounts), 14 days of history."""
    with SandboxServer(SandboxState(SANDBOX)) as server:
        yield server


@pytest.fixture()
def dagster_home(tmp_path: Path) -> Iterator[Path]:
    """A fresh DAGSTER_HOME, in memory where the machine has /dev/shm: the embedded instance's SQLite
    commits one event at a time, and on a busy disk those fsyncs were a third of a backfill's time."""
    if not SHARED_MEMORY.is_dir():
        yield tmp_path / "dagster_home"
        return
    home = Path(tempfile.mkdtemp(prefix="mono-dagster-home-", dir=SHARED_MEMORY))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture()
def operator(
    matrix_sandbox: SandboxServer, database_url: str, dagster_home: Path, tmp_path: Path
) -> Iterator[Operator]:
    sandbox = matrix_sandbox
    # The schema exists before the first backfill, so a test can hold a lock on a table from the start.
    upgrade_database(database_url)
    dispose_engines()
    start, end = window(sandbox.state)
    operator = Operator(
        sandbox=sandbox,
        database_url=database_url,
        dagster_home=dagster_home,
        log_dir=tmp_path / "logs",
        start=start,
        end=end,
    )
    operator.env = {
        "MONO_BASE_URL": sandbox.base_url,
        "MONO_SECRET_KEY": sandbox.state.secret_key,
        "MONO_DAGSTER_DB_URL": database_url,
        "DAGSTER_HOME": str(operator.dagster_home),
        "MONO_MAX_ATTEMPTS": "10",
        "MONO_PAGE_SIZE": str(PAGE_SIZE),
        "MONO_RATE_LIMIT_PER_SECOND": "1000",
        "MONO_RATE_LIMIT_BURST": "1000",
        "MONO_EVENTS_PUBLISHER": "log",
    }
    yield operator
    dispose_engines()
