"""What the reliability matrix shares: a small multi-shard sandbox, `mono-dagster backfill` as a real
subprocess (killable with its whole process group), probes that read the pipeline's database without
taking its locks, the two Dagster instances (embedded, and pools like production), and the
database-level holds that stop a backfill at a chosen statement so a test can act there.

The fixtures are in this package's conftest (`matrix_sandbox`, `operator`); the suite's own `sandbox`
fixture is not overridden.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from mono_dagster.observability.scrub import find_leaks
from mono_dagster.sandbox import FaultPlan, SandboxConfig, SandboxServer, SandboxState

REPO_ROOT = Path(__file__).resolve().parents[2]
# Six accounts of seed 7 sit on three shards (of 8): each backfill is three runs, several accounts each.
SANDBOX = SandboxConfig(seed=7, accounts=6, days=14, per_day=5)
WINDOW_DAYS = 10
PAGE_SIZE = 10  # five pages per account window: paging, and a fault can land mid-walk
MONO_POOL = "mono_api"
PROBE_APPLICATION = "reliability-probe"
POLL_SECONDS = 0.01
POINT_TIMEOUT_SECONDS = 120.0
BACKFILL_TIMEOUT_SECONDS = 240.0
IN_PROGRESS = {dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED}

T = TypeVar("T")


# -- the backfill process ------------------------------------------------------------------------------


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


class Backfill:
    """`mono-dagster backfill` in its own session, so a SIGKILL reaches every process it started."""

    def __init__(self, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.monotonic_ns()}"
        self._stdout_path = log_dir / f"backfill-{stamp}.out"
        self._stderr_path = log_dir / f"backfill-{stamp}.err"
        with self._stdout_path.open("w") as stdout, self._stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mono_dagster.cli", "backfill", *args],
                env={**os.environ, **env},
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> Finished:
        return Finished(
            self.process.returncode if self.process.returncode is not None else -1,
            self._stdout_path.read_text(errors="replace"),
            self._stderr_path.read_text(errors="replace"),
        )

    def wait(self, timeout: float = BACKFILL_TIMEOUT_SECONDS) -> Finished:
        """Waits for the end; a backfill still running after `timeout` is killed and the test fails (a hang)."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the backfill hung for {timeout:.0f} s and was killed:\n{self.output().describe()}")
        done = self.output()
        leaking = [line for line in (done.stdout + done.stderr).splitlines() if find_leaks(line)]
        assert not leaking, f"the backfill printed {len(leaking)} line(s) with a secret or a full number"
        return done

    def kill(self) -> None:
        """SIGKILL to the whole process group (the CLI and any worker it started), then reap it."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        assert self.process.returncode == -signal.SIGKILL or self.process.returncode is not None


def poll(condition: Callable[[], T | None], *, what: str, backfill: Backfill | None = None) -> T:
    """Polls `condition` until it returns a truthy value; fails when the backfill ends first or on timeout."""
    deadline = time.monotonic() + POINT_TIMEOUT_SECONDS
    while True:
        found = condition()
        if found:
            return found
        if backfill is not None and not backfill.running():
            pytest.fail(f"the backfill ended before {what}:\n{backfill.output().describe()}")
        if time.monotonic() > deadline:
            if backfill is not None:
                backfill.kill()
            pytest.fail(f"timed out after {POINT_TIMEOUT_SECONDS:.0f} s waiting for {what}")
        time.sleep(POLL_SECONDS)


# -- instances -----------------------------------------------------------------------------------------


def write_pools_instance(home: Path) -> None:
    """The production dagster.yaml (run limits, pools, run monitoring and retries) on SQLite storage,
    with the pool limit at 1: a single slot left claimed by a dead run then blocks the next backfill."""
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert "pools" in config["concurrency"], "the production instance no longer sets pool limits"
    config.pop("storage")  # Postgres storage needs the DAGSTER_PG_* credentials; SQLite under DAGSTER_HOME
    config["concurrency"]["pools"]["default_limit"] = 1
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


# -- the operator's environment --------------------------------------------------------------------------


def window(state: SandboxState) -> tuple[date, date]:
    end = state.end_date - timedelta(days=1)
    return end - timedelta(days=WINDOW_DAYS - 1), end


@dataclass
class Operator:
    """One operator's setup: the sandbox, the pipeline database, a Dagster home, and the window."""

    sandbox: SandboxServer
    database_url: str
    dagster_home: Path
    log_dir: Path
    start: date
    end: date
    env: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> SandboxState:
        return self.sandbox.state

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    def start_backfill(self) -> Backfill:
        return Backfill(["--start", self.start.isoformat(), "--end", self.end.isoformat()], self.env, self.log_dir)

    def backfill(self, *, expect: int = 0) -> Finished:
        done = self.start_backfill().wait()
        assert done.returncode == expect, done.describe()
        return done

    def probe(self) -> sa.Engine:
        """Reads the pipeline's database without its engine's settings (no BEGIN IMMEDIATE on SQLite)."""
        if self.is_postgres:
            return sa.create_engine(
                self.database_url,
                isolation_level="AUTOCOMMIT",
                poolclass=NullPool,
                connect_args={"application_name": PROBE_APPLICATION},
            )
        return sa.create_engine(self.database_url, poolclass=NullPool)

    def scalar(self, sql: str, **params: Any) -> Any:
        engine = self.probe()
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text(sql), params).scalar()
        finally:
            engine.dispose()

    def count(self, table: str, where: str = "1 = 1", **params: Any) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {table} WHERE {where}", **params))

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.dagster_home))

    def use_faults(self, plan: FaultPlan) -> None:
        self.state.set_fault_plan(plan)


# -- holds: stop the backfill at one statement ------------------------------------------------------------


class PostgresHold:
    """Holds SHARE on a table: readers go on, the first write to it waits, visibly in pg_locks."""

    def __init__(self, operator: Operator, table: str) -> None:
        self.operator = operator
        self.table = table
        self._engine = operator.probe().execution_options(isolation_level="READ COMMITTED")
        self._conn = self._engine.connect()
        self._transaction = self._conn.begin()
        self._conn.execute(sa.text(f"LOCK TABLE {table} IN SHARE MODE"))

    def waiting_backend(self) -> int | None:
        """The pid of a backend waiting to write the held table, if any."""
        return self.operator.scalar(
            "SELECT pid FROM pg_locks WHERE relation = to_regclass(:table) AND NOT granted LIMIT 1", table=self.table
        )

    def release(self) -> None:
        if self._transaction.is_active:
            self._transaction.rollback()
        self._conn.close()
        self._engine.dispose()


def holds_write_lock(operator: Operator, pid: int, table: str) -> bool:
    """Whether backend `pid` has written `table` in its open transaction (its RowExclusiveLock is granted)."""
    return bool(
        operator.scalar(
            "SELECT count(*) FROM pg_locks WHERE pid = :pid AND relation = to_regclass(:table) "
            "AND mode = 'RowExclusiveLock' AND granted",
            pid=pid,
            table=table,
        )
    )


def pipeline_backends(operator: Operator) -> int:
    """Backends of the pipeline's database other than the test's own probes."""
    return int(
        operator.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND application_name <> :probe AND backend_type = 'client backend'",
            probe=PROBE_APPLICATION,
        )
    )


class SqliteHold:
    """SQLite has no lock a test can hold on one table: every transaction of the pipeline takes the
    database's write lock up front. So a trigger keeps the transaction that first writes `table` busy
    (a large cross join) while it holds the write lock; the probe sees that lock held for many polls in
    a row, which no other transaction of the pipeline does. Dropped on release."""

    BURN_ROWS = 3000  # 2.7e10 joined rows: minutes of work, never finished before the test acts

    def __init__(self, operator: Operator, table: str) -> None:
        self.operator = operator
        self.path = make_url(operator.database_url).database
        assert self.path, operator.database_url
        with sqlite3.connect(self.path) as conn:
            conn.execute("CREATE TABLE reliability_burn (x INTEGER)")
            conn.executemany("INSERT INTO reliability_burn VALUES (?)", [(n,) for n in range(self.BURN_ROWS)])
            conn.execute(
                f"CREATE TRIGGER reliability_hold BEFORE INSERT ON {table} BEGIN "
                "SELECT sum(a.x * b.x + c.x) FROM reliability_burn a, reliability_burn b, reliability_burn c; END"
            )

    def write_lock_held(self) -> bool:
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc), exc
            return True
        finally:
            conn.close()

    def release(self) -> None:
        with sqlite3.connect(self.path, timeout=30) as conn:
            conn.execute("DROP TRIGGER IF EXISTS reliability_hold")
            conn.execute("DROP TABLE IF EXISTS reliability_burn")


def held_for_polls(check: Callable[[], bool], polls: int = 20) -> Callable[[], bool]:
    """A condition true only after `check` held in `polls` consecutive polls (a long hold, not a blip)."""
    streak = {"count": 0}

    def condition() -> bool:
        streak["count"] = streak["count"] + 1 if check() else 0
        return streak["count"] >= polls

    return condition
