"""The outbox: events commit with the data, come out in order, and are delivered once marked."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from mono_dagster.storage.outbox import (
    PipelineEvent,
    append_events,
    mark_delivered,
    record_failed_delivery,
    undelivered_events,
)
from mono_dagster_tests.storage.builders import NOW


def _event(name: str, **payload) -> PipelineEvent:
    return PipelineEvent(event_name=name, account_id="acc-1", correlation_id="corr-1", run_id="run-1", payload=payload)


def test_events_come_out_in_the_order_they_were_appended(engine):
    names = [f"event.{n:02d}" for n in range(25)]
    with engine.begin() as conn:
        append_events(conn, [_event(name) for name in names[:10]])
        append_events(conn, [_event(name) for name in names[10:]])
    with engine.connect() as conn:
        events = undelivered_events(conn, limit=100)
    assert [event.event_name for event in events] == names
    assert [event.id for event in events] == sorted(event.id for event in events)


def test_event_fields_and_payload_round_trip(engine):
    event = PipelineEvent(
        event_name="bank.transactions.ingested",
        account_id=None,
        correlation_id="corr-1",
        run_id="run-1",
        partition_key="2024-03-01|shard-03",
        payload={"inserted": 3, "day": date(2024, 3, 1), "total": Decimal("10.50"), "accounts": ["a", "b"]},
        created_at=NOW,
    )
    with engine.begin() as conn:
        append_events(conn, [event])
        (stored,) = undelivered_events(conn)
    assert uuid.UUID(stored.event_id).version == 4 and stored.event_id == event.event_id
    assert stored.payload == {"inserted": 3, "day": "2024-03-01", "total": "10.50", "accounts": ["a", "b"]}
    assert (stored.partition_key, stored.account_id, stored.created_at) == ("2024-03-01|shard-03", None, NOW)
    assert stored.delivered_at is None and stored.delivery_attempts == 0


def test_delivered_events_are_not_offered_again(engine):
    with engine.begin() as conn:
        append_events(conn, [_event(f"e{n}") for n in range(5)])
        first_two = undelivered_events(conn, limit=2)
        assert mark_delivered(conn, [event.event_id for event in first_two], NOW) == 2
        assert mark_delivered(conn, [first_two[0].event_id], NOW + timedelta(seconds=1)) == 0
        assert [event.event_name for event in undelivered_events(conn)] == ["e2", "e3", "e4"]


def test_failed_deliveries_are_counted_and_the_event_stays_queued(engine):
    with engine.begin() as conn:
        append_events(conn, [_event("e0")])
        (event,) = undelivered_events(conn)
        record_failed_delivery(conn, [event.event_id])
        record_failed_delivery(conn, [event.event_id])
        (again,) = undelivered_events(conn)
    assert again.delivery_attempts == 2


def test_events_roll_back_with_the_transaction(engine):
    with pytest.raises(RuntimeError), engine.begin() as conn:
        append_events(conn, [_event("e0")])
        raise RuntimeError("the data write failed")
    with engine.connect() as conn:
        assert undelivered_events(conn) == []


def test_event_ids_and_timestamps_are_filled_in():
    first, second = _event("a"), _event("a")
    assert first.event_id != second.event_id
    assert first.created_at.tzinfo is not None


@pytest.mark.postgres
def test_locked_events_are_skipped_by_a_concurrent_relay(postgres_database_url):
    from mono_dagster.storage.engine import create_db_engine
    from mono_dagster.storage.migrate import upgrade_database

    upgrade_database(postgres_database_url)
    engine = create_db_engine(postgres_database_url)
    with engine.begin() as conn:
        append_events(conn, [_event(f"lock-{n}") for n in range(4)])
    with engine.connect() as relay_a, engine.connect() as relay_b:
        taken_a = undelivered_events(relay_a, limit=2, lock=True)
        taken_b = undelivered_events(relay_b, limit=10, lock=True)
        assert {e.event_id for e in taken_a}.isdisjoint(e.event_id for e in taken_b)
        relay_a.rollback()
        relay_b.rollback()
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM pipeline_events WHERE event_name LIKE 'lock-%%'")
