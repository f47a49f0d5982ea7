"""Real Prometheus and Pushgateway processes (Debian's binaries) on loopback, for the export tests.

A missing binary fails the test in CI (``CI`` set) and skips it loudly elsewhere. Every server gets a
port this test session never handed out before, so a cached per-URL pusher never meets a new gateway.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mono_dagster_tests.monitoring.conftest import RULES

STARTUP_SECONDS = 30.0
_ports_handed_out: set[int] = set()


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not on PATH (apt-get install {package})"
        if _running_in_ci():
            pytest.fail(message + " (CI must run the real-Prometheus tests)")
        pytest.skip(f"SKIPPING REAL-PROMETHEUS TEST LOUDLY: {message}")
    return path


def fresh_port() -> int:
    """A free loopback port not handed out earlier in this session."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _ports_handed_out:
            _ports_handed_out.add(port)
            return port


def closed_port() -> int:
    """A loopback port nothing listens on (handed out, never bound)."""
    return fresh_port()


def get_text(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode("utf-8")


def wait_for(what: str, probe: Callable[[], Any], *, deadline_seconds: float = STARTUP_SECONDS) -> Any:
    """Polls `probe` until it returns something other than None or False; fails when the deadline passes."""
    deadline = time.monotonic() + deadline_seconds
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (OSError, ValueError) as exc:
            last = exc
        if last is not None and last is not False and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; last probe: {last!r}")


@contextmanager
def _server(command: list[str], url: str, log: Path) -> Iterator[None]:
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(f"{command[0]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                get_text(f"{url}/-/ready", timeout=1.0)
            except (OSError, ValueError):
                return False
            return True

        wait_for(f"{command[0]} at {url}", ready)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass(frozen=True)
class Pushgateway:
    url: str

    def samples(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        """Every sample of `name` the gateway exposes whose labels include `labels`."""
        from prometheus_client.parser import text_string_to_metric_families

        found = []
        for family in text_string_to_metric_families(get_text(f"{self.url}/metrics")):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    found.append((sample.labels, sample.value))
        return found

    def total(self, name: str, **labels: str) -> float:
        return sum(value for _, value in self.samples(name, **labels))


@contextmanager
def running_pushgateway(tmp_path: Path) -> Iterator[Pushgateway]:
    binary = require_binary("prometheus-pushgateway", "prometheus-pushgateway")
    port = fresh_port()
    url = f"http://127.0.0.1:{port}"
    # Debian's build persists to /var/lib/prometheus by default: keep each test's gateway to itself.
    command = [binary, f"--web.listen-address=127.0.0.1:{port}", f"--persistence.file={tmp_path / 'pushgateway.data'}"]
    with _server(command, url, tmp_path / "pushgateway.log"):
        yield Pushgateway(url)


@dataclass(frozen=True)
class Prometheus:
    url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = json.loads(get_text(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"))
        assert body["status"] == "success", body
        return body["data"]["result"]

    def alerts(self) -> list[dict[str, Any]]:
        body = json.loads(get_text(f"{self.url}/api/v1/alerts"))
        assert body["status"] == "success", body
        return body["data"]["alerts"]


@contextmanager
def running_prometheus(tmp_path: Path, pushgateway: Pushgateway) -> Iterator[Prometheus]:
    """Prometheus scraping the Pushgateway every second and evaluating the real alert rules every second."""
    binary = require_binary("prometheus", "prometheus")
    port = fresh_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": "pushgateway",
                "honor_labels": True,
                "static_configs": [{"targets": [pushgateway.url.removeprefix("http://")]}],
            }
        ],
    }
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    url = f"http://127.0.0.1:{port}"
    command = [
        binary,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with _server(command, url, tmp_path / "prometheus.log"):
        yield Prometheus(url)
