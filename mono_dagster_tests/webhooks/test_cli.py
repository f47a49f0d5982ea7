"""`mono-dagster webhooks serve | inbox` as an operator runs them: real subprocesses, real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx

from mono_dagster_tests.webhooks.conftest import SECRET

BODY = json.dumps({"event": "mono.events.account_unlinked", "data": {"account": {"id": "a1b2c3d4e5f6a7b8c9d0e1f2"}}})


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mono_dagster.cli", *args]


def test_serve_needs_the_secret_and_says_so_in_one_line(sqlite_database_url):
    env = {key: value for key, value in os.environ.items() if not key.startswith("MONO_WEBHOOK_SECRET")}
    done = subprocess.run(
        cli("webhooks", "serve", "--port", "0"),
        env={**env, "MONO_DAGSTER_DB_URL": sqlite_database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "error: MONO_WEBHOOK_SECRET (or MONO_WEBHOOK_SECRET_FILE) must be set to receive webhooks"
    )


def test_serve_receives_a_delivery_and_inbox_lists_it(inbox_url):
    env = {**os.environ, "MONO_DAGSTER_DB_URL": inbox_url, "MONO_WEBHOOK_SECRET": SECRET}
    server = subprocess.Popen(
        cli("webhooks", "serve", "--host", "127.0.0.1", "--port", "0"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert banner.startswith("Mono webhook receiver on http://127.0.0.1:"), banner
        url = banner.split()[4]
        assert url.endswith("/webhooks/mono")
        answer = httpx.post(url, content=BODY, headers={"mono-webhook-secret": SECRET}, timeout=10.0)
        assert answer.status_code == 200 and answer.json()["status"] == "stored"
        assert httpx.get(url.replace("/webhooks/mono", "/healthz"), timeout=10.0).status_code == 200
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)
    assert SECRET not in stderr
    listed = subprocess.run(
        cli("webhooks", "inbox"), env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "mono.events.account_unlinked" in listed and "a1b2c3d4e5f6a7b8c9d0e1f2" in listed
