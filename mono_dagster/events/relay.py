"""The outbox relay: publishes undelivered `pipeline_events` rows in `id` order and marks them delivered.

Guarantees:
- **At least once.** A row is marked delivered only after its publisher returned, which for RabbitMQ
  means the broker confirmed it. A relay that dies between publish and mark publishes the event again
  on its next pass; the event id (AMQP `message_id`, header, body) lets consumers de-duplicate.
- **Outbox order, so per-account order.** Rows are read oldest first and a batch stops at its first
  failure: the failed event is retried before anything after it, so no later event of the same account
  overtakes it. The price is head-of-line blocking: an event the receiver keeps refusing holds up the
  rest, which the backlog gauge and `taxpoynt_mono_events_relayed_total{outcome="failed"}` show.
- **One relay at a time** (`lease.py`).

Database transactions stay short (read a batch; mark what was acknowledged): nothing is held open while
publishing, so the pipeline's writers never wait on the broker. Broker errors back off exponentially
with full jitter (tenacity), and the publisher reconnects on its next try.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential
from tenacity.stop import stop_base

from mono_dagster.events import metrics
from mono_dagster.events.backlog import Backlog, read_backlog
from mono_dagster.events.lease import RelayLease
from mono_dagster.events.message import message_for
from mono_dagster.events.publishers import publisher_from_settings
from mono_dagster.events.publishers.base import Publisher, PublishError
from mono_dagster.settings import Settings
from mono_dagster.storage.outbox import StoredEvent, mark_delivered, record_failed_delivery, undelivered_events
from mono_dagster.storage.tables import utcnow

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100
PROGRESS_EVERY = 1000  # events per pass of the long-running relay (one progress line each)


@dataclass(frozen=True)
class RelaySummary:
    delivered: int
    backlog: int
    failures: int = 0
    last_error: str | None = None
    lease_held: bool = True

    def describe(self) -> str:
        if not self.lease_held:
            return "another relay holds the lease; nothing relayed"
        text = f"delivered {self.delivered} event(s); {self.backlog} undelivered"
        if self.last_error:
            text += f"; stopped after {self.failures} failed attempt(s): {self.last_error}"
        return text


class _Stopped(stop_base):
    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def __call__(self, retry_state: object) -> bool:
        return self._stop.is_set()


class OutboxRelay:
    def __init__(
        self,
        engine: sa.Engine,
        publisher: Publisher,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_backoff_seconds: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.batch_size = batch_size
        self.max_backoff_seconds = max_backoff_seconds
        self.clock = clock
        self.lease = RelayLease(engine)

    # -- bounded mode (CLI --once, the Dagster sensor) --------------------------------------------------

    def run_once(self, max_events: int, *, attempts: int = 3, stop: threading.Event | None = None) -> RelaySummary:
        """Delivers up to `max_events` events, retrying broker errors `attempts` times in all, then returns."""
        stop = stop or threading.Event()
        if not self.lease.acquire():
            return RelaySummary(delivered=0, backlog=self.refresh_backlog().events, lease_held=False)
        try:
            delivered, failures, error = self._drain(max_events, stop_after_attempt(attempts) | _Stopped(stop), stop)
        finally:
            self.lease.release()
        return RelaySummary(delivered, self.refresh_backlog().events, failures, error)

    # -- long-running mode (`mono-dagster events relay`) ------------------------------------------------

    def run_forever(self, stop: threading.Event, *, poll_interval_seconds: float = 1.0) -> int:
        """Relays until `stop` is set; returns how many events it delivered. Waits for the lease when it is taken."""
        total = 0
        while not stop.is_set():
            try:
                if not self.lease.acquire():
                    log.info("another relay holds the lease; standing by")
                    stop.wait(poll_interval_seconds * 5)
                    continue
                # Bounded passes, so a steady stream still gets a progress line and a fresh backlog gauge.
                delivered, _failures, _error = self._drain(PROGRESS_EVERY, _Stopped(stop), stop)
                backlog = self.refresh_backlog()
            except sa.exc.OperationalError as exc:  # the database restarted or is unreachable: wait, go on
                log.warning("database unavailable (%s); retrying", exc.__class__.__name__)
                self.lease.release()
                stop.wait(poll_interval_seconds * 5)
                continue
            total += delivered
            if delivered:
                log.info("relayed %d event(s); %d undelivered", delivered, backlog.events)
            if not delivered or backlog.events == 0:
                stop.wait(poll_interval_seconds)
        self.lease.release()
        return total

    # -- the work -------------------------------------------------------------------------------------

    def _drain(
        self, max_events: int | None, stop_rule: stop_base, stop: threading.Event
    ) -> tuple[int, int, str | None]:
        """Delivers batches until the outbox is empty, `max_events` is reached, or retries give up."""
        delivered = 0
        failures = 0
        last_error: str | None = None
        retrying = Retrying(
            stop=stop_rule,
            wait=wait_random_exponential(multiplier=0.5, max=self.max_backoff_seconds),
            retry=retry_if_exception_type(PublishError),
            sleep=stop.wait,
            before_sleep=lambda _state: self.refresh_backlog(),
        )
        try:
            for attempt in retrying:
                with attempt:
                    while not stop.is_set() and (max_events is None or delivered < max_events):
                        if not self.lease.still_held():
                            return delivered, failures, "the relay lease was lost"
                        limit = self.batch_size if max_events is None else min(self.batch_size, max_events - delivered)
                        batch = self._read_batch(limit)
                        if not batch:
                            break
                        acknowledged, error = self._deliver(batch)
                        delivered += acknowledged
                        if error is not None:
                            failures += 1
                            last_error = error
                            log.warning("publishing stopped (failed attempt %d): %s", failures, error)
                            raise PublishError(error)
                    last_error = None
        except RetryError:
            pass
        return delivered, failures, last_error

    def _read_batch(self, limit: int) -> list[StoredEvent]:
        with self.engine.begin() as conn:
            return undelivered_events(conn, limit=limit)

    def _deliver(self, batch: Sequence[StoredEvent]) -> tuple[int, str | None]:
        """Publishes in order up to the first failure; marks what was acknowledged. Returns (acknowledged, error)."""
        acknowledged: list[str] = []
        error: str | None = None
        try:
            for event in batch:
                try:
                    self.publisher.publish(message_for(event))
                except PublishError as exc:
                    error = f"{event.event_name} {event.event_id}: {exc}"
                    with self.engine.begin() as conn:
                        record_failed_delivery(conn, [event.event_id])
                    metrics.count_relayed("failed")
                    break
                acknowledged.append(event.event_id)
        finally:
            # Also on an unexpected exception: what the receiver acknowledged is delivered.
            if acknowledged:
                with self.engine.begin() as conn:
                    mark_delivered(conn, acknowledged, self.clock())
                metrics.count_relayed("delivered", len(acknowledged))
        return len(acknowledged), error

    def refresh_backlog(self) -> Backlog:
        with self.engine.connect() as conn:
            backlog = read_backlog(conn)
        metrics.set_backlog(backlog.events, backlog.oldest_age_seconds(self.clock()))
        return backlog


def relay_once(engine: sa.Engine, settings: Settings, *, max_events: int, attempts: int = 3) -> RelaySummary:
    """One bounded pass with the configured publisher (what the Dagster sensor and `--once` run)."""
    publisher = publisher_from_settings(settings)
    try:
        return OutboxRelay(engine, publisher, batch_size=settings.events_relay_batch_size).run_once(
            max_events, attempts=attempts
        )
    finally:
        publisher.close()
