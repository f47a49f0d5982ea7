"""Subprocesses of the end-to-end test: each in its own process group, output in a file, always stopped.

`dagster-webserver` and `dagster-daemon` start children (the code server, run workers), so they are
stopped by process group: SIGTERM first, SIGKILL for whatever is left after a grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

STOP_GRACE_SECONDS = 10.0
T = TypeVar("T")


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 150) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Terminates the whole process group, then kills any member still running."""
        group = self.process.pid  # start_new_session: the leader's pid is the group id
        _signal_group(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(group, signal.SIGKILL)
        self.process.wait()


def _signal_group(group: int, signum: signal.Signals) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:  # every member has exited
        pass


def start_service(name: str, args: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_dir: Path) -> Service:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # the child keeps its own copy of the file descriptor
            list(args), cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Service(name, process, log_path)


def run_command(args: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 120) -> str:
    """Runs a command to completion; a non-zero exit fails with its output."""
    result = subprocess.run(list(args), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        command = " ".join(args)
        output = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        raise AssertionError(f"`{command}` exited with {result.returncode}\n{output}")
    return result.stdout


def wait_for(
    probe: Callable[[], T | None], *, timeout: float, what: str, services: Sequence[Service] = (), interval: float = 0.5
) -> T:
    """Polls `probe` until it returns something other than None; fails if a service dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        for service in services:
            if not service.alive():
                raise AssertionError(f"{service.name} exited ({service.process.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
