"""Dead letters: what a consumer rejects or lets expire lands in the DLQ; on-call lists, replays, purges it."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner

from mono_dagster.cli.main import cli
from mono_dagster.events.publishers import AmqpPublisher
from mono_dagster.events.relay import OutboxRelay
from mono_dagster.storage.tables import utcnow
from mono_dagster_tests.events.conftest import ACCOUNTS, append_interleaved, append_named


def _relay(engine, broker, topology=None) -> None:
    publisher = AmqpPublisher(broker.url, topology or broker.topology)
    assert OutboxRelay(engine, publisher).run_once(max_events=1000).last_error is None
    publisher.close()


@pytest.fixture()
def sqlite_engine(sqlite_database_url):
    from mono_dagster.storage.engine import create_db_engine, dispose_engines
    from mono_dagster.storage.migrate import upgrade_database

    upgrade_database(sqlite_database_url)
    yield create_db_engine(sqlite_database_url)
    dispose_engines()


def test_a_message_the_consumer_rejects_lands_in_the_dead_letter_queue(sqlite_engine, broker):
    events = append_interleaved(sqlite_engine, per_account=1)
    _relay(sqlite_engine, broker)
    broker.reject(1)
    dead = broker.drain(broker.topology.dead_letter_queue)
    assert [message.event_id for message in dead] == [events[0].event_id]
    (death,) = dead[0].properties.headers["x-death"]
    assert (death["reason"], death["queue"]) == ("rejected", broker.topology.router_queue)
    assert dead[0].routing_key == events[0].event_name  # the fanout DLX keeps the event-name routing key
    assert [message.event_id for message in broker.drain()] == [event.event_id for event in events[1:]]


def test_a_message_past_its_ttl_is_dead_lettered_as_expired(sqlite_engine, broker):
    short_lived = broker.new_topology(ttl_seconds=1)
    (event,) = append_interleaved(sqlite_engine, per_account=1, accounts=ACCOUNTS[:1])
    _relay(sqlite_engine, broker, short_lived)
    deadline = time.monotonic() + 30
    while broker.depth(short_lived.dead_letter_queue) == 0:  # waits for the broker's expiry; asserts no timing
        assert time.monotonic() < deadline, "the expired message never reached the dead-letter queue"
        time.sleep(0.1)
    (dead,) = broker.drain(short_lived.dead_letter_queue)
    assert dead.event_id == event.event_id
    assert dead.properties.headers["x-death"][0]["reason"] == "expired"
    assert broker.depth(short_lived.router_queue) == 0


def _run(broker, *args: str, input: str | None = None):
    env = {"MONO_EVENTS_AMQP_URL": broker.url, "MONO_EVENTS_AMQP_EXCHANGE": broker.topology.exchange}
    return CliRunner().invoke(cli, ["events", "dlq", *args], env=env, input=input, catch_exceptions=False)


@pytest.fixture()
def dead_lettered(sqlite_engine, broker):
    """Five rejected events: three `mono.fetch.*` (two of them two days old), two others."""
    events = append_named(
        sqlite_engine,
        [
            ("mono.fetch.failed", timedelta(days=2)),
            ("bank.transactions.ingested", timedelta(days=2)),
            ("mono.fetch.zero_transactions", timedelta(days=2)),
            ("mono.pipeline.completed", timedelta(minutes=5)),
            ("mono.fetch.latency_sla_exceeded", timedelta(minutes=5)),
        ],
    )
    _relay(sqlite_engine, broker)
    broker.reject(len(events))
    return events


def test_dlq_list_shows_name_masked_account_age_and_reason_and_leaves_the_queue_as_it_was(dead_lettered, broker):
    result = _run(broker, "list", "--event", "mono.fetch.*")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "3 dead-lettered event(s) match; 2 other(s) in the queue" in lines[-1]
    rows = [line.split() for line in lines[2:-1]]
    assert [row[0] for row in rows] == [
        "mono.fetch.failed",
        "mono.fetch.zero_transactions",
        "mono.fetch.latency_sla_exceeded",
    ]
    assert [row[1] for row in rows] == ["****00a1", "****00c3", "****00b2"]
    assert [row[2] for row in rows] == ["2d00h", "2d00h", "0h05m"]
    assert all(row[3] == "rejected" for row in rows)
    assert not any(account in result.output for account in ACCOUNTS)  # never the full account id
    # Listing acknowledges nothing: the queue keeps all five, in their order.
    assert [m.event_id for m in broker.drain(broker.topology.dead_letter_queue)] == [e.event_id for e in dead_lettered]


def test_dlq_replay_republishes_matching_events_once_with_the_same_message_id(dead_lettered, broker):
    cutoff = (utcnow() - timedelta(days=1)).isoformat()
    result = _run(broker, "replay", "--event", "mono.fetch.*", "--before", cutoff)
    assert result.exit_code == 0, result.output
    assert "replayed 2 event(s); 3 left in the dead-letter queue" in result.output

    replayed = broker.drain()
    assert [m.event_id for m in replayed] == [dead_lettered[0].event_id, dead_lettered[2].event_id]
    assert all(json.loads(m.body)["event_id"] == m.event_id for m in replayed)
    assert all(m.properties.headers["x-taxpoynt-replays"] == 1 for m in replayed)
    # Replaying again finds nothing left to replay: each event reaches the router once per replay.
    again = _run(broker, "replay", "--event", "mono.fetch.*", "--before", cutoff)
    assert "replayed 0 event(s); 3 left" in again.output and broker.drain() == []
    left = broker.drain(broker.topology.dead_letter_queue)
    assert [m.event_id for m in left] == [e.event_id for e in (dead_lettered[1], dead_lettered[3], dead_lettered[4])]


def test_dlq_purge_asks_first_and_then_drops_only_matching_events(dead_lettered, broker):
    declined = _run(broker, "purge", "--event", "mono.fetch.*", input="n\n")
    assert declined.exit_code == 1 and "Purge 3 dead-lettered event(s) for good?" in declined.output
    assert broker.depth(broker.topology.dead_letter_queue) == 5

    # The RFC's rollback step 3: clear queued mono.fetch.* events.
    purged = _run(broker, "purge", "--event", "mono.fetch.*", "--yes")
    assert purged.exit_code == 0 and "purged 3 event(s); 2 left" in purged.output
    left = broker.drain(broker.topology.dead_letter_queue)
    assert [m.routing_key for m in left] == ["bank.transactions.ingested", "mono.pipeline.completed"]


def test_dlq_purge_before_a_time_keeps_newer_events(dead_lettered, broker):
    cutoff = (utcnow() - timedelta(hours=1)).isoformat()
    purged = _run(broker, "purge", "--before", cutoff, "--yes")
    assert "purged 3 event(s); 2 left" in purged.output
    left = broker.drain(broker.topology.dead_letter_queue)
    assert [m.event_id for m in left] == [dead_lettered[3].event_id, dead_lettered[4].event_id]


def test_dlq_commands_say_in_one_line_when_the_broker_is_unreachable(broker):
    env = {"MONO_EVENTS_AMQP_URL": "amqp://guest:secret-password@127.0.0.1:1/%2F"}
    result = CliRunner().invoke(cli, ["events", "dlq", "list"], env=env)
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot reach RabbitMQ at amqp://guest@127.0.0.1:1/")
    assert "secret-password" not in result.output


def test_dlq_before_must_be_an_iso_time(broker):
    result = _run(broker, "list", "--before", "yesterday")
    assert result.exit_code == 2 and "is not an ISO time" in result.output
