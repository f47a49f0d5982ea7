"""A relay killed between the broker's confirm and marking the row: the event is delivered again, never lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import sqlalchemy as sa

from mono_dagster.events.lease import RelayLease
from mono_dagster.events.publishers import AmqpPublisher
from mono_dagster.events.relay import OutboxRelay
from mono_dagster.storage.tables import pipeline_events
from mono_dagster_tests.events.conftest import append_interleaved


def wait_until_lease_is_free(engine: sa.Engine, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    lease = RelayLease(engine)
    while not lease.acquire():
        assert time.monotonic() < deadline, "the killed relay's lease was never released"
        time.sleep(0.05)
    lease.release()


def test_a_relay_killed_between_publish_and_mark_publishes_that_event_again(engine, database_url, broker):
    events = append_interleaved(engine, per_account=3)
    crashed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mono_dagster_tests.events.crashing_relay",
            database_url,
            broker.url,
            broker.topology.exchange,
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    with engine.connect() as conn:
        delivered = conn.execute(
            sa.select(pipeline_events.c.event_id).where(pipeline_events.c.delivered_at.is_not(None))
        ).scalars()
        assert set(delivered) == {event.event_id for event in events[:3]}  # the 4th was confirmed, not marked

    # Postgres ends the dead relay's session (and its lease) when it sees the socket close.
    wait_until_lease_is_free(engine)
    publisher = AmqpPublisher(broker.url, broker.topology)
    summary = OutboxRelay(engine, publisher).run_once(max_events=100)
    publisher.close()

    received = [message.event_id for message in broker.drain()]
    ids = [event.event_id for event in events]
    assert received == ids[:4] + ids[3:]  # the 4th twice (at least once), then the rest in order
    assert (summary.delivered, summary.backlog) == (len(ids) - 3, 0)
