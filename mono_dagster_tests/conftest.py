"""Session fixtures that build real things: a fresh Postgres database, a SQLite file, a Mono sandbox.

Postgres tests never skip silently: in CI (``CI`` set) a missing server is a failure; elsewhere the
skip is printed loudly at the end of the run.

The session also fails when any log line it produces holds a Mono secret key, a bearer token or a
full account number / BVN (`LeakCheck` below): every log record of the test process, fully formatted
(message, `extra=` fields, traceback, stack), and the output files of the end-to-end services.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mono_dagster.observability.scrub import RECORD_ATTRIBUTES, find_leaks, install_log_scrubber, scrub_text

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


# -- the session-wide leak check ------------------------------------------------------------------------

_MAX_REPORTED_LEAKS = 50


class _FullFormatter(logging.Formatter):
    """The whole record on one text: level, logger, message, every string `extra=` field, traceback, stack."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        extras = [
            f"{key}={value}"
            for key, value in record.__dict__.items()
            if key not in RECORD_ATTRIBUTES and isinstance(value, str)
        ]
        text = super().format(record)
        return f"{text} [{' '.join(extras)}]" if extras else text


class LeakCheck(logging.Handler):
    """Formats every log record the test process dispatches; remembers each line that still leaks.

    It sees records as `logging.Logger.callHandlers` dispatches them (wrapped for the session), so it
    also covers loggers that do not propagate to the root (Dagster's run loggers, its console logger).
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(_FullFormatter())
        self.current = "<collection>"
        self.records = 0
        self.leaks: list[tuple[str, str]] = []
        self._original: Callable[[logging.Logger, logging.LogRecord], None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        self.check(self.format(record), self.current)

    def check(self, text: str, where: str) -> None:
        for line in text.splitlines():
            if find_leaks(line):
                self.leaks.append((where, scrub_text(line)))

    def start(self) -> None:
        original = logging.Logger.callHandlers
        check = self

        def call_handlers(logger: logging.Logger, record: logging.LogRecord) -> None:
            check.handle(record)
            original(logger, record)

        self._original = original
        logging.Logger.callHandlers = call_handlers  # type: ignore[method-assign]

    def stop(self) -> None:
        if self._original is not None:
            logging.Logger.callHandlers = self._original  # type: ignore[method-assign]
            self._original = None

    def report(self) -> list[str]:
        lines = [f"{where}: {line}" for where, line in self.leaks[:_MAX_REPORTED_LEAKS]]
        if len(self.leaks) > _MAX_REPORTED_LEAKS:
            lines.append(f"... and {len(self.leaks) - _MAX_REPORTED_LEAKS} more")
        return lines


_leak_check = pytest.StashKey[LeakCheck]()


def pytest_configure(config: pytest.Config) -> None:
    # Every process of the product installs the scrubber (the code location on import, the CLI on
    # start); the suite does too, before collection, so the check does not depend on test order.
    install_log_scrubber()
    check = LeakCheck()
    check.start()
    config.stash[_leak_check] = check


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    check = item.config.stash[_leak_check]
    check.current = item.nodeid
    try:
        return (yield)
    finally:
        check.current = f"<after {item.nodeid}>"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    try:
        return (yield)
    finally:
        # The end-to-end services (code server, run workers, daemon, webserver) log to files in the test's stack.
        log_dir = getattr((getattr(item, "funcargs", None) or {}).get("stack"), "log_dir", None)
        if isinstance(log_dir, Path):
            check = item.config.stash[_leak_check]
            for path in sorted(log_dir.glob("*.log")):
                check.check(path.read_text(errors="replace"), f"{item.nodeid} ({path.name})")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    check = session.config.stash.get(_leak_check, None)
    if check is None:
        return
    check.stop()
    if check.leaks and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    check = config.stash.get(_leak_check, None)
    if check is None:
        return
    if not check.leaks:
        terminalreporter.write_line(f"leak check: {check.records} log records, no secret or full number")
        return
    terminalreporter.section("log lines leaking a secret, a token or a full number (shown masked)", red=True)
    for line in check.report():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"FAILED: {len(check.leaks)} leaking log line(s)", red=True)
