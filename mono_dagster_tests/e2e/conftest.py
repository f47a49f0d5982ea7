"""The deployed stack, as an operator runs it: Postgres, the Mono sandbox, `mono-dagster` commands, and
`dagster-webserver` plus `dagster-daemon` on the repository's `workspace.yaml` and production `dagster.yaml`.

Everything runs in subprocesses of `.venv/bin/...` from the repository root with an explicit environment.
The two Dagster processes are always stopped at teardown; their output is printed when a test fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from mono_dagster_tests.e2e.processes import Service, T, run_command, start_service, wait_for
from mono_dagster_tests.e2e.ui_client import DagsterUI

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = "mono_dagster"  # workspace.yaml's location_name
SHARD_COUNT = 4
STARTUP_TIMEOUT_SECONDS = 90


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keeps each phase's report on the item, so fixtures can tell at teardown whether the test failed."""
    report = yield
    setattr(item, f"e2e_report_{report.when}", report)
    return report


@dataclass(frozen=True)
class Databases:
    instance_db: str  # Dagster's runs, events and schedules (the production dagster.yaml)
    data_url: str  # mono-dagster's own tables (MONO_DAGSTER_DB_URL)
    username: str
    password: str
    host: str


@pytest.fixture()
def databases(postgres_server_url: str) -> Iterator[Databases]:
    """Two fresh Postgres databases, dropped (with any connection left) afterwards."""
    parts = urlsplit(postgres_server_url)
    if (parts.port or 5432) != 5432:
        pytest.fail("the production dagster.yaml connects to port 5432; the test Postgres server listens elsewhere")
    suffix = uuid.uuid4().hex[:10]
    names = [f"mono_dagster_e2e_instance_{suffix}", f"mono_dagster_e2e_data_{suffix}"]
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = postgres_server_url.rsplit("/", 1)[0]
    try:
        yield Databases(
            instance_db=names[0],
            data_url=f"{base}/{names[1]}",
            username=parts.username or "postgres",
            password=parts.password or "",
            host=parts.hostname or "127.0.0.1",
        )
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class Stack:
    env: dict[str, str]
    accounts: list[str]  # the two registered sandbox accounts
    first_day: date  # MONO_PARTITIONS_START_DATE, the sandbox's first day of history
    data_url: str
    log_dir: Path

    def cli(self, *args: str) -> str:
        return run_command([str(BIN / "mono-dagster"), *args], cwd=REPO, env=self.env)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def stack(sandbox, databases: Databases, tmp_path: Path) -> Stack:
    """The environment of every process (as `.env.example` lists it), with two accounts registered."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")  # the production instance, unchanged
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    accounts = sandbox.state.account_ids()[:2]
    first_day = sandbox.state.end_date - timedelta(days=sandbox.state.config.days - 1)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("MONO_", "DAGSTER_"))}
    env = {
        **inherited,
        "PYTHONUNBUFFERED": "1",
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_USERNAME": databases.username,
        "DAGSTER_PG_PASSWORD": databases.password,
        "DAGSTER_PG_HOST": databases.host,
        "DAGSTER_PG_DB": databases.instance_db,
        "MONO_BASE_URL": sandbox.base_url,
        "MONO_SECRET_KEY": sandbox.state.secret_key,
        "MONO_DAGSTER_DB_URL": databases.data_url,
        "MONO_PARTITIONS_START_DATE": first_day.isoformat(),
        "MONO_SHARD_COUNT": str(SHARD_COUNT),
        # Schedules and sensors run as in production (all default to RUNNING). Discovery must find
        # nothing new to register: the sandbox lists a third account this deployment does not own.
        "MONO_ACCOUNT_ALLOWLIST": ",".join(accounts),
        # The daily sync (which syncs every account's recent days) is set twelve hours away.
        "MONO_DAILY_SYNC_CRON": f"0 {(datetime.now(ZoneInfo('Africa/Lagos')).hour + 12) % 24} * * *",
        # The relay sensor runs too; it must not publish test events into the machine's real broker.
        "MONO_EVENTS_PUBLISHER": "log",
    }
    result = Stack(env=env, accounts=accounts, first_day=first_day, data_url=databases.data_url, log_dir=log_dir)
    result.cli("db", "upgrade")
    result.cli("accounts", "add", *accounts)
    return result


@pytest.fixture()
def data_engine(stack: Stack) -> Iterator[sa.Engine]:
    """The test's own connection to mono-dagster's database, to read what the runs persisted."""
    engine = sa.create_engine(stack.data_url)
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class Deployment:
    ui: DagsterUI
    services: list[Service]

    def wait(self, probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
        """Polls `probe` until it answers; fails when the webserver or the daemon exits meanwhile."""
        return wait_for(probe, timeout=timeout, what=what, services=self.services, interval=1.0)


@pytest.fixture()
def deployment(stack: Stack, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """`dagster-webserver` and `dagster-daemon` on workspace.yaml, the code location loaded."""
    run_command([str(BIN / "dagster"), "instance", "migrate"], cwd=REPO, env=stack.env)
    port = _free_port()
    services: list[Service] = []
    ui = DagsterUI(f"http://127.0.0.1:{port}", LOCATION)
    ready = False
    try:
        webserver = start_service(
            "dagster-webserver",
            [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env=stack.env,
            log_dir=stack.log_dir,
        )
        services.append(webserver)
        daemon = start_service(
            "dagster-daemon",
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO,
            env=stack.env,
            log_dir=stack.log_dir,
        )
        services.append(daemon)
        wait_for(
            ui.server_info, timeout=STARTUP_TIMEOUT_SECONDS, what="the webserver's /server_info", services=services
        )
        wait_for(ui.loaded_location, timeout=STARTUP_TIMEOUT_SECONDS, what="the code location", services=services)
        ready = True
        yield Deployment(ui, services)
    finally:
        ui.close()
        for service in services:
            service.stop()
        report = getattr(request.node, "e2e_report_call", None)
        if not ready or (report is not None and report.failed):
            for service in services:
                sys.stderr.write(f"\n===== {service.name} output (last lines) =====\n{service.tail()}\n")
