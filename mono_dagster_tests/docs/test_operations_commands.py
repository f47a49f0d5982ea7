"""Every command in a `bash` block of docs/operations.md runs, as on-call would type it.

The commands run verbatim through bash against a Mono sandbox, a fresh Postgres database, RabbitMQ, a
Pushgateway and a temporary Dagster instance, with the shell variables the runbook names (`ACCOUNT`,
`START`, `END`, `DEDUP_KEY`) set. Commands marked `# long-running` are services: they must start and
keep running until they are stopped.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pika
import pytest
import sqlalchemy as sa

from mono_dagster.events.publishers import AmqpTopology
from mono_dagster.storage.engine import dispose_engines
from mono_dagster_tests.events.conftest import channel
from mono_dagster_tests.monitoring.servers import running_pushgateway

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"
FENCE = re.compile(r"^(?P<indent>[ \t]*)```bash\n(?P<body>.*?)^(?P=indent)```", re.MULTILINE | re.DOTALL)
LONG_RUNNING = "# long-running"


@dataclass(frozen=True)
class Command:
    text: str
    line: int

    @property
    def long_running(self) -> bool:
        return LONG_RUNNING in self.text


def runbook_commands(markdown: str) -> list[Command]:
    """The commands of every bash block, one per logical line (quotes and backslashes continue a line)."""
    commands: list[Command] = []
    for block in FENCE.finditer(markdown):
        first_line = markdown.count("\n", 0, block.start("body")) + 1
        pending: list[str] = []
        for offset, line in enumerate(textwrap.dedent(block.group("body")).splitlines()):
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending.append(line)
            text = "\n".join(pending)
            if text.endswith("\\") or not _complete(text):
                continue
            commands.append(Command(text, first_line + offset - len(pending) + 1))
            pending = []
        assert not pending, f"unterminated command in operations.md at line {first_line}: {pending}"
    return commands


def _complete(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def test_the_parser_reads_multi_line_and_continued_commands():
    markdown = "x\n  ```bash\n  # comment\n  echo 'a\n  b'\n  ls \\\n    -l\n  serve   # long-running\n  ```\n"
    commands = runbook_commands(markdown)
    assert [c.text for c in commands] == ["echo 'a\nb'", "ls \\\n  -l", "serve   # long-running"]
    assert [c.long_running for c in commands] == [False, False, True]


@pytest.fixture()
def runbook_env(sandbox, postgres_server_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The production-like environment the runbook assumes, pointing at throwaway real services."""
    try:
        pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F")).close()
    except Exception as exc:  # the broker is down
        pytest.fail(f"RabbitMQ is needed to run the runbook's event commands: {exc.__class__.__name__}")
    database = f"mono_dagster_runbook_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    exchange = f"runbook.mono.events.{uuid.uuid4().hex[:10]}"
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    bin_dir = str(Path(sys.executable).parent)
    with running_pushgateway(tmp_path) as gateway:
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "MONO_BASE_URL": sandbox.base_url,
            "MONO_SECRET_KEY": sandbox.state.secret_key,
            "MONO_DAGSTER_DB_URL": f"{postgres_server_url.rsplit('/', 1)[0]}/{database}",
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "MONO_MAX_ATTEMPTS": "10",
            "MONO_EVENTS_PUBLISHER": "amqp",
            "MONO_EVENTS_AMQP_EXCHANGE": exchange,
            "MONO_WEBHOOK_SECRET": "whsec_runbook_test",
            "PROMETHEUS_PUSHGATEWAY_URL": gateway.url,
            "ACCOUNT": sandbox.state.account_ids()[0],
            "START": (yesterday - timedelta(days=2)).isoformat(),
            "END": yesterday.isoformat(),
            "DEDUP_KEY": "mono-synthetic:runbook-test",
        }
        (tmp_path / "dagster_home").mkdir()
        for setup in (["db", "upgrade"], ["accounts", "discover"]):
            done = subprocess.run(
                [sys.executable, "-m", "mono_dagster.cli", *setup], env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stderr
        try:
            yield env
        finally:
            dispose_engines()
            with channel("amqp://guest:guest@127.0.0.1:5672/%2F") as ch:
                AmqpTopology(exchange, 0).delete(ch)
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()


@pytest.mark.postgres
def test_every_runbook_command_runs(runbook_env: dict[str, str]):
    commands = runbook_commands(OPERATIONS.read_text(encoding="utf-8"))
    assert len(commands) >= 25, "the runbook's bash blocks were not found"
    exports: list[str] = []
    failures: list[str] = []
    for command in commands:
        script = "\n".join(["set -euo pipefail", *exports, command.text])
        if command.text.startswith("export "):
            exports.append(command.text)
        if command.long_running:
            failure = _run_service(script, runbook_env)
        else:
            done = subprocess.run(
                ["bash", "-c", script], env=runbook_env, capture_output=True, text=True, timeout=300, check=False
            )
            failure = None if done.returncode == 0 else f"exit {done.returncode}: {done.stderr[-1500:]}"
        if failure:
            failures.append(f"operations.md line {command.line}: {command.text}\n  {failure}")
    assert not failures, "\n".join(failures)


def _run_service(script: str, env: dict[str, str]) -> str | None:
    """A service must come up and stay up; then it is stopped as a supervisor would (SIGTERM)."""
    process = subprocess.Popen(
        ["bash", "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        time.sleep(6)
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            return f"exited with {process.returncode} instead of running: {output[-1500:]}"
        return None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
