"""One relay at a time: a second relay (the sensor, a second service) stands by while the lease is held."""

from __future__ import annotations

from mono_dagster.events.lease import RelayLease
from mono_dagster.events.publishers import AmqpPublisher
from mono_dagster.events.relay import OutboxRelay
from mono_dagster_tests.events.conftest import append_interleaved


def test_a_second_relay_publishes_nothing_while_the_first_holds_the_lease(engine, broker):
    events = append_interleaved(engine, per_account=2)
    holder = RelayLease(engine)
    assert holder.acquire()
    publisher = AmqpPublisher(broker.url, broker.topology)
    try:
        blocked = OutboxRelay(engine, publisher).run_once(max_events=100)
        assert (blocked.lease_held, blocked.delivered, blocked.backlog) == (False, 0, len(events))
        assert blocked.describe() == "another relay holds the lease; nothing relayed"
        assert broker.drain() == []
    finally:
        holder.release()
    after = OutboxRelay(engine, publisher).run_once(max_events=100)
    publisher.close()
    assert (after.lease_held, after.delivered) == (True, len(events))
    assert [message.event_id for message in broker.drain()] == [event.event_id for event in events]


def test_the_lease_is_released_after_a_bounded_pass(engine):
    relay_lease = RelayLease(engine)
    assert relay_lease.acquire()
    relay_lease.release()
    again = RelayLease(engine)
    assert again.acquire() and again.still_held()
    again.release()
    assert not again.still_held()
