"""Fixtures of the event-delivery tests: the real RabbitMQ, a throw-away topology per test, an outbox.

RabbitMQ never skips silently: in CI (``CI`` set) a missing broker fails the run; elsewhere the
skip is loud. Each test declares its own exchange and queues (random suffix) and deletes them after.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pika
import pytest
from sqlalchemy import Engine

from mono_dagster.events.publishers import AmqpTopology
from mono_dagster.storage.engine import create_db_engine, dispose_engines
from mono_dagster.storage.migrate import upgrade_database
from mono_dagster.storage.outbox import PipelineEvent, append_events
from mono_dagster.storage.tables import utcnow
from mono_dagster_tests.conftest import _running_in_ci

RABBITMQ_URL = os.environ.get("MONO_DAGSTER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    try:
        pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL)).close()
    except Exception as exc:  # the broker is down or unreachable
        message = f"RabbitMQ is not reachable at 127.0.0.1:5672: {exc.__class__.__name__}"
        if _running_in_ci():
            pytest.fail(message + " (CI must run the event-delivery suites)")
        pytest.skip("SKIPPING RABBITMQ SUITE LOUDLY: " + message)
    return RABBITMQ_URL


def make_topology(rabbitmq_url: str, ttl_seconds: int = 0) -> AmqpTopology:
    return AmqpTopology(f"test.mono.events.{uuid.uuid4().hex[:10]}", ttl_seconds)


@pytest.fixture()
def broker(rabbitmq_url: str) -> Iterator[Broker]:
    """A fresh topology (exchange, router queue, DLX, DLQ) on the real broker, deleted afterwards."""
    created: list[AmqpTopology] = []

    def factory(ttl_seconds: int = 0) -> AmqpTopology:
        topology = make_topology(rabbitmq_url, ttl_seconds)
        with channel(rabbitmq_url) as ch:
            topology.declare(ch)
        created.append(topology)
        return topology

    yield Broker(rabbitmq_url, factory(), factory)
    with channel(rabbitmq_url) as ch:
        for topology in created:
            topology.delete(ch)


@dataclass
class Broker:
    url: str
    topology: AmqpTopology
    new_topology: Any

    def drain(self, queue: str | None = None) -> list[Received]:
        """Every message in the queue (the router queue by default), in queue order, acknowledged."""
        received = []
        with channel(self.url) as ch:
            while True:
                method, properties, body = ch.basic_get(queue or self.topology.router_queue, auto_ack=True)
                if method is None:
                    return received
                received.append(Received(method.routing_key, properties, body))

    def reject(self, count: int) -> list[Received]:
        """Takes `count` messages off the router queue and rejects them (requeue=false): a consumer saying no."""
        rejected = []
        with channel(self.url) as ch:
            for _ in range(count):
                method, properties, body = ch.basic_get(self.topology.router_queue, auto_ack=False)
                assert method is not None, "fewer messages in the router queue than expected"
                ch.basic_reject(method.delivery_tag, requeue=False)
                rejected.append(Received(method.routing_key, properties, body))
        return rejected

    def depth(self, queue: str) -> int:
        with channel(self.url) as ch:
            return ch.queue_declare(queue, passive=True).method.message_count


@dataclass(frozen=True)
class Received:
    routing_key: str
    properties: pika.BasicProperties
    body: bytes

    @property
    def event_id(self) -> str:
        return str(self.properties.message_id)


class channel:
    def __init__(self, url: str) -> None:
        self._connection = pika.BlockingConnection(pika.URLParameters(url))

    def __enter__(self) -> Any:
        return self._connection.channel()

    def __exit__(self, *_exc: object) -> None:
        self._connection.close()


def close_broker_connection(connection_name: str) -> None:
    """The broker drops one client connection, as it does to every client when it restarts."""
    listing = subprocess.run(
        ["rabbitmqctl", "list_connections", "-q", "--no-table-headers", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pids = [line.split("\t", 1)[0] for line in listing.splitlines() if connection_name in line]
    assert pids, f"no broker connection named {connection_name}"
    for pid in pids:
        subprocess.run(
            ["rabbitmqctl", "close_connection", pid, "test: broker restart"], check=True, capture_output=True
        )


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    upgrade_database(database_url)
    yield create_db_engine(database_url)
    dispose_engines()


ACCOUNTS = ("6710ab0000000000000000a1", "6710ab0000000000000000b2", "6710ab0000000000000000c3")


def append_interleaved(
    engine: Engine, per_account: int, accounts: Sequence[str] = ACCOUNTS, *, name: str = "mono.fetch.zero_transactions"
) -> list[PipelineEvent]:
    """Events of several accounts, interleaved, each carrying its sequence number within its account."""
    events = [
        PipelineEvent(
            event_name=name,
            account_id=account,
            correlation_id=str(uuid.uuid4()),
            run_id="run-1",
            payload={"sequence": n},
        )
        for n in range(per_account)
        for account in accounts
    ]
    with engine.begin() as conn:
        append_events(conn, events)
    return events


def append_named(engine: Engine, specs: Sequence[tuple[str, timedelta]]) -> list[PipelineEvent]:
    """One event per (name, age) pair, in that order, created `age` before now."""
    now = utcnow()
    events = [
        PipelineEvent(
            event_name=name,
            account_id=ACCOUNTS[index % len(ACCOUNTS)],
            correlation_id=str(uuid.uuid4()),
            run_id="run-1",
            created_at=now - age,
        )
        for index, (name, age) in enumerate(specs)
    ]
    with engine.begin() as conn:
        append_events(conn, events)
    return events


def first_copies(received: Sequence[Received]) -> list[str]:
    """Event ids in the order a de-duplicating consumer processes them (each id's first copy)."""
    return list(dict.fromkeys(message.event_id for message in received))


def created(events: Sequence[PipelineEvent]) -> list[datetime]:
    return [event.created_at for event in events]
