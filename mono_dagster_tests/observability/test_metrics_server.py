"""`/metrics` in long-running processes: the code location's HTTP server and the ASGI helper.

The code-location tests run `import mono_dagster.definitions` in a fresh Python process, because the
server is started once per process.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from mono_dagster.observability import metrics
from mono_dagster.observability.metrics_server import METRICS_PORT_ENV, metrics_asgi_app, start_metrics_server_from_env
from mono_dagster_tests.monitoring.servers import fresh_port

IMPORT_DEFINITIONS_AND_SCRAPE = textwrap.dedent(
    """
    import os, sys, urllib.request
    import mono_dagster.definitions
    from mono_dagster.observability.metrics_server import start_metrics_server_from_env
    port = int(os.environ["MONO_METRICS_PORT"])
    print("second start:", start_metrics_server_from_env())
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError as exc:
        body = f"no answer: {exc}"
    print(body)
    """
)


def _import_definitions(port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", IMPORT_DEFINITIONS_AND_SCRAPE],
        env={**_environ(), METRICS_PORT_ENV: str(port)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _environ() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != METRICS_PORT_ENV}


def test_importing_the_code_location_serves_metrics_once_per_process():
    port = fresh_port()
    result = _import_definitions(port)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"second start: {port}" in result.stdout
    assert "# TYPE taxpoynt_mono_pipeline_stage_seconds histogram" in result.stdout
    assert "# TYPE taxpoynt_mono_client_requests_total counter" in result.stdout


def test_a_taken_port_is_a_warning_and_the_code_location_still_loads():
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))  # bound, not listening: the port is taken and a scrape is refused at once
        port = holder.getsockname()[1]
        result = _import_definitions(port)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "could not serve /metrics" in result.stderr
    assert "second start: None" in result.stdout


def test_run_workers_and_the_cli_do_not_serve_and_bad_ports_are_refused(caplog):
    port = fresh_port()
    environ = {METRICS_PORT_ENV: str(port)}
    assert start_metrics_server_from_env(environ, argv=["dagster", "api", "execute_run", "{}"]) is None
    assert start_metrics_server_from_env(environ, argv=["/usr/bin/mono-dagster", "backfill"]) is None
    assert start_metrics_server_from_env({**environ, "DAGSTER_IS_DEFS_VALIDATION_CLI": "1"}, argv=["dagster"]) is None
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", port))  # nothing took the port
    assert start_metrics_server_from_env({}, argv=["dagster", "api", "grpc"]) is None
    assert start_metrics_server_from_env({METRICS_PORT_ENV: "http"}, argv=["dagster", "api", "grpc"]) is None
    assert "is not a TCP port" in caplog.text


def test_the_asgi_app_answers_prometheus_scrapes():
    metrics.observe_zero_transactions("asgi-app-test-account")
    app = Starlette(routes=[Mount("/metrics", app=metrics_asgi_app())])

    async def scrape() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver") as client:
            return await client.get("/metrics/")

    response = asyncio.run(scrape())
    assert response.status_code == 200
    assert 'taxpoynt_mono_pipeline_zero_transactions_total{account_id="asgi-app-test-account",provider="mono"}' in (
        response.text
    )
