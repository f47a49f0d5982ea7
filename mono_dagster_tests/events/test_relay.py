"""The outbox relay against the real RabbitMQ: every event at least once, in per-account order."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pika
import sqlalchemy as sa

from mono_dagster.events.message import EVENT_ID_HEADER
from mono_dagster.events.publishers import AmqpPublisher
from mono_dagster.events.relay import OutboxRelay
from mono_dagster.storage.tables import pipeline_events
from mono_dagster_tests.events.conftest import (
    ACCOUNTS,
    append_interleaved,
    channel,
    close_broker_connection,
    first_copies,
)


def _rows(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.select(pipeline_events).order_by(pipeline_events.c.id)).mappings()]


def _per_account_sequences(bodies: list[dict]) -> dict[str, list[int]]:
    sequences: dict[str, list[int]] = {}
    for body in bodies:
        sequences.setdefault(body["account_id"], []).append(body["payload"]["sequence"])
    return sequences


def test_relay_delivers_every_event_once_in_outbox_order_with_its_id_everywhere(engine, broker):
    events = append_interleaved(engine, per_account=10)
    publisher = AmqpPublisher(broker.url, broker.topology)
    summary = OutboxRelay(engine, publisher, batch_size=7).run_once(max_events=1000)
    publisher.close()

    received = broker.drain()
    assert [message.event_id for message in received] == [event.event_id for event in events]
    for message, event in zip(received, events, strict=True):
        body = json.loads(message.body)
        assert body["event_id"] == message.properties.headers[EVENT_ID_HEADER] == event.event_id
        assert message.routing_key == body["event_name"] == "mono.fetch.zero_transactions"
        assert message.properties.delivery_mode == pika.DeliveryMode.Persistent.value
        assert message.properties.correlation_id == event.correlation_id
    assert (summary.delivered, summary.backlog, summary.last_error) == (30, 0, None)
    rows = _rows(engine)
    assert all(row["delivered_at"] is not None and row["delivery_attempts"] == 1 for row in rows)


def test_max_events_bounds_a_pass_and_the_next_pass_continues_in_order(engine, broker):
    events = append_interleaved(engine, per_account=4)
    publisher = AmqpPublisher(broker.url, broker.topology)
    relay = OutboxRelay(engine, publisher, batch_size=5)
    first = relay.run_once(max_events=7)
    second = relay.run_once(max_events=100)
    publisher.close()
    assert (first.delivered, first.backlog, second.delivered, second.backlog) == (7, 5, 5, 0)
    assert [message.event_id for message in broker.drain()] == [event.event_id for event in events]


def test_a_dropped_broker_connection_mid_stream_loses_and_reorders_nothing(engine, broker):
    """What the relay sees when RabbitMQ restarts: its connection closed under it, twice, mid-stream."""
    events = append_interleaved(engine, per_account=8)
    publisher = AmqpPublisher(broker.url, broker.topology)

    class BrokerDropsConnection:
        """The real publisher; the broker closes its connection after the 5th and the 13th message."""

        name = "amqp"
        published = 0

        def publish(self, message):
            publisher.publish(message)
            self.published += 1
            if self.published in (5, 13):
                close_broker_connection(publisher.connection_name)

        def close(self):
            publisher.close()

    relay = OutboxRelay(engine, BrokerDropsConnection(), batch_size=6, max_backoff_seconds=0.2)
    summary = relay.run_once(max_events=1000, attempts=10)
    publisher.close()

    received = broker.drain()
    assert first_copies(received) == [event.event_id for event in events]  # nothing lost, nothing reordered
    assert publisher.connections_opened == 3  # it reconnected after each drop
    bodies = [json.loads(message.body) for message in received]
    assert _per_account_sequences(bodies) == {account: list(range(8)) for account in ACCOUNTS}
    assert (summary.delivered, summary.backlog) == (24, 0)


def test_an_unreachable_broker_keeps_the_events_and_counts_the_attempts(engine, broker):
    events = append_interleaved(engine, per_account=2)
    down = AmqpPublisher("amqp://guest:guest@127.0.0.1:1/%2F", broker.topology)  # nothing listens on port 1
    summary = OutboxRelay(engine, down, max_backoff_seconds=0.05).run_once(max_events=100, attempts=3)
    assert (summary.delivered, summary.backlog, summary.failures) == (0, 6, 3)
    assert "broker unavailable" in (summary.last_error or "")
    rows = _rows(engine)
    assert [row["delivery_attempts"] for row in rows] == [3, 0, 0, 0, 0, 0]  # only the head event was tried
    assert all(row["delivered_at"] is None for row in rows)

    publisher = AmqpPublisher(broker.url, broker.topology)
    assert OutboxRelay(engine, publisher).run_once(max_events=100).delivered == 6
    publisher.close()
    assert [message.event_id for message in broker.drain()] == [event.event_id for event in events]


def test_an_unroutable_event_stops_the_relay_before_later_events(engine, broker):
    """Mandatory routing: when no queue is bound the broker returns the message, and nothing later overtakes it."""
    append_interleaved(engine, per_account=2)
    publisher = AmqpPublisher(broker.url, broker.topology)

    class QueueUnboundAfterFirstMessage:
        name = "amqp"

        def publish(self, message):
            publisher.publish(message)
            with channel(broker.url) as ch:
                ch.queue_unbind(broker.topology.router_queue, broker.topology.exchange, routing_key="#")

        def close(self):
            publisher.close()

    relay = OutboxRelay(engine, QueueUnboundAfterFirstMessage(), max_backoff_seconds=0.05)
    summary = relay.run_once(max_events=100, attempts=2)
    publisher.close()
    assert (summary.delivered, summary.backlog) == (1, 5)
    assert "unroutable" in (summary.last_error or "")
    assert [row["delivery_attempts"] for row in _rows(engine)] == [1, 2, 0, 0, 0, 0]
    assert len(broker.drain()) == 1


def test_a_real_broker_restart_mid_stream_loses_and_reorders_nothing(engine, broker):
    """RabbitMQ itself stops (`rabbitmqctl stop_app`) after the 6th message and comes back 3 s later.

    The relay keeps retrying the head event with back-off while the broker refuses connections; the
    messages confirmed before the stop survive it (durable queue, persistent messages).
    """
    events = append_interleaved(engine, per_account=8)
    publisher = AmqpPublisher(broker.url, broker.topology)
    restarter: list[threading.Thread] = []

    class BrokerRestarts:
        name = "amqp"
        published = 0

        def publish(self, message):
            publisher.publish(message)
            self.published += 1
            if self.published == 6:
                rabbitmqctl("stop_app")
                thread = threading.Thread(target=lambda: (time.sleep(3), rabbitmqctl("start_app")), daemon=True)
                thread.start()
                restarter.append(thread)

        def close(self):
            publisher.close()

    try:
        relay = OutboxRelay(engine, BrokerRestarts(), batch_size=5, max_backoff_seconds=0.5)
        summary = relay.run_once(max_events=1000, attempts=200)
    finally:
        for thread in restarter:
            thread.join(timeout=60)
        rabbitmqctl("start_app")  # whatever happened, leave the shared broker running
        rabbitmqctl("await_startup")
    publisher.close()

    assert restarter, "the broker was never stopped"
    assert summary.failures > 0, "the relay saw the broker down and retried"
    received = broker.drain()
    assert first_copies(received) == [event.event_id for event in events]
    bodies = [json.loads(message.body) for message in received]
    assert _per_account_sequences(bodies) == {account: list(range(8)) for account in ACCOUNTS}
    assert (summary.delivered, summary.backlog) == (24, 0)


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)
