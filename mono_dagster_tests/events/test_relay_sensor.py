"""`mono_event_relay`: each tick drains the outbox through the configured publisher; the kill switch stops it."""

from __future__ import annotations

import dagster as dg
import pytest

from mono_dagster.defs.event_relay_schedule import mono_event_relay
from mono_dagster.defs.resources import DatabaseResource
from mono_dagster_tests.events.conftest import append_interleaved


@pytest.fixture()
def relay_environment(monkeypatch, broker):
    monkeypatch.setenv("MONO_EVENTS_PUBLISHER", "amqp")
    monkeypatch.setenv("MONO_EVENTS_AMQP_URL", broker.url)
    monkeypatch.setenv("MONO_EVENTS_AMQP_EXCHANGE", broker.topology.exchange)
    monkeypatch.setenv("MONO_EVENTS_AMQP_MESSAGE_TTL_SECONDS", "0")
    return broker


def _tick(database_url: str) -> str:
    with dg.build_sensor_context(resources={"database": DatabaseResource(url=database_url)}) as context:
        result = mono_event_relay(context)
    assert isinstance(result, dg.SkipReason)
    return str(result.skip_message)


def test_a_sensor_tick_relays_the_outbox_and_reports_it(engine, database_url, relay_environment):
    events = append_interleaved(engine, per_account=3)
    assert _tick(database_url) == "delivered 9 event(s); 0 undelivered"
    assert [message.event_id for message in relay_environment.drain()] == [event.event_id for event in events]
    assert _tick(database_url) == "delivered 0 event(s); 0 undelivered"


def test_the_kill_switch_stops_the_relay_sensor(engine, database_url, relay_environment, monkeypatch):
    append_interleaved(engine, per_account=1)
    monkeypatch.setenv("MONO_INGESTION_ENABLED", "false")
    assert "kill switch" in _tick(database_url)
    assert relay_environment.drain() == []
