"""Starting and stopping the sandbox: in a thread on a free port, and as the `sandbox` CLI command."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from mono_dagster.sandbox import SandboxConfig, SandboxServer, SandboxState


def test_the_server_reports_its_real_port_and_stops_on_exit():
    state = SandboxState(SandboxConfig(accounts=1, days=1, per_day=1))
    with SandboxServer(state) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert not server.base_url.endswith(":0")
        assert httpx.get(f"{server.base_url}/_sandbox/state").status_code == 200
    try:
        httpx.get(f"{server.base_url}/_sandbox/state", timeout=1)
    except httpx.TransportError:
        pass
    else:
        raise AssertionError("the server still answers after exit")


def test_the_cli_prints_base_url_and_accounts_then_serves():
    script = "from mono_dagster.cli.sandbox_command import sandbox_command; sandbox_command()"
    env = {**os.environ, "MONO_SECRET_KEY": "test_sk_from_env"}
    args = [
        "--port",
        "0",
        "--accounts",
        "2",
        "--days",
        "3",
        "--per-day",
        "4",
        "--end-date",
        "2024-03-01",
        "--shape",
        "v1",
        "--fault-rate",
        "0",
        "--faults",
        "500,slow",
    ]
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(4)]
        assert lines[0].startswith("Mono sandbox on http://127.0.0.1:")
        base_url = lines[0].rsplit(" ", 1)[1]
        accounts = [line.split()[1] for line in lines if line.startswith("account ")]
        assert len(accounts) == 2
        deadline = time.monotonic() + 10
        while True:  # the port is bound before uvicorn accepts
            try:
                response = httpx.get(
                    f"{base_url}/v2/accounts/{accounts[0]}/transactions",
                    params={"start": "01-03-2024", "end": "01-03-2024"},
                    headers={"mono-sec-key": "test_sk_from_env"},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert response.json()["data"]["paging"]["total"] == 4
        assert "test_sk_from_env" not in "\n".join(lines)
    finally:
        process.terminate()
        process.wait(timeout=10)
