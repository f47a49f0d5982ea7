"""`mono-dagster events relay`: `--once` drains and summarises; the service serves /metrics and stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import sqlalchemy as sa
from click.testing import CliRunner

from mono_dagster.cli.main import cli
from mono_dagster.storage.tables import pipeline_events
from mono_dagster_tests.events.conftest import append_interleaved


def _environment(broker, database_url: str) -> dict[str, str]:
    return {
        "MONO_DAGSTER_DB_URL": database_url,
        "MONO_EVENTS_PUBLISHER": "amqp",
        "MONO_EVENTS_AMQP_URL": broker.url,
        "MONO_EVENTS_AMQP_EXCHANGE": broker.topology.exchange,
        "MONO_EVENTS_AMQP_MESSAGE_TTL_SECONDS": "0",
    }


def test_relay_once_delivers_up_to_max_events_and_prints_a_summary(engine, database_url, broker):
    events = append_interleaved(engine, per_account=4)
    env = _environment(broker, database_url)
    first = CliRunner().invoke(cli, ["events", "relay", "--once", "--max-events", "5"], env=env)
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "delivered 5 event(s); 7 undelivered"
    rest = CliRunner().invoke(cli, ["events", "relay", "--once"], env=env)
    assert rest.output.strip() == "delivered 7 event(s); 0 undelivered"
    assert [message.event_id for message in broker.drain()] == [event.event_id for event in events]


def test_relay_once_exits_1_when_the_broker_is_down_and_keeps_the_events(engine, database_url, broker):
    append_interleaved(engine, per_account=1)
    env = {**_environment(broker, database_url), "MONO_EVENTS_AMQP_URL": "amqp://guest:pw@127.0.0.1:1/%2F"}
    result = CliRunner().invoke(cli, ["events", "relay", "--once"], env=env)
    assert result.exit_code == 1
    assert "delivered 0 event(s); 3 undelivered; stopped after 3 failed attempt(s)" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, what: str, seconds: float = 30.0):  # waits for the relay; asserts nothing about speed
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = condition()
        except httpx.TransportError:
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def test_the_relay_service_relays_serves_metrics_and_stops_cleanly_on_sigterm(engine, database_url, broker):
    events = append_interleaved(engine, per_account=5)
    port = _free_port()
    service = subprocess.Popen(
        [sys.executable, "-m", "mono_dagster.cli", "events", "relay", "--metrics-port", str(port)],
        env={**os.environ, **_environment(broker, database_url)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def undelivered() -> int:
            with engine.connect() as conn:
                query = sa.select(sa.func.count()).where(pipeline_events.c.delivered_at.is_(None))
                return conn.execute(query).scalar_one()

        _wait(lambda: undelivered() == 0, "the service to relay the outbox")
        more = append_interleaved(engine, per_account=1)  # written while it runs: picked up on its next poll
        _wait(lambda: undelivered() == 0, "the service to relay events written later")

        def drained_metrics() -> str | None:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            return text if 'taxpoynt_mono_events_backlog{provider="mono"} 0.0' in text else None

        metrics = _wait(drained_metrics, "the backlog gauge to reach 0")
        assert 'taxpoynt_mono_events_relayed_total{outcome="delivered",provider="mono"} 18.0' in metrics
        checked = re.search(r'taxpoynt_mono_events_backlog_checked_timestamp_seconds\{provider="mono"\} (\S+)', metrics)
        assert checked and abs(float(checked.group(1)) - time.time()) < 60, "a pass stamps when it read the backlog"
        service.send_signal(signal.SIGTERM)
        stdout, stderr = service.communicate(timeout=30)
    finally:
        if service.poll() is None:
            service.kill()
    assert service.returncode == 0, stderr
    assert "SIGTERM" in stderr and stdout.strip() == "stopped; delivered 18 event(s); 0 undelivered"
    assert [message.event_id for message in broker.drain()] == [event.event_id for event in events + more]
