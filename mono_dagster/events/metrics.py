"""The relay's Prometheus metrics, labelled `provider="mono"` like the RFC's pipeline metrics."""

from __future__ import annotations

import time
from typing import Final

from prometheus_client import Counter, Gauge

PROVIDER: Final = "mono"

EVENTS_RELAYED = Counter(
    "taxpoynt_mono_events_relayed_total",
    "Outbox events the relay tried to publish, by outcome (delivered: the receiver acknowledged; failed).",
    ["provider", "outcome"],
)
EVENTS_BACKLOG = Gauge(
    "taxpoynt_mono_events_backlog",
    "Outbox events not yet delivered (pipeline_events rows with delivered_at unset).",
    ["provider"],
)
OLDEST_UNDELIVERED_AGE = Gauge(
    "taxpoynt_mono_events_oldest_undelivered_age_seconds",
    "Age of the oldest undelivered outbox event (0 when the backlog is empty).",
    ["provider"],
)

BACKLOG_CHECKED = Gauge(
    "taxpoynt_mono_events_backlog_checked_timestamp_seconds",
    "Unix time a relay pass last read the outbox backlog: stale when no relay runs, whatever the backlog.",
    ["provider"],
)


def count_relayed(outcome: str, amount: int = 1) -> None:
    if amount:
        EVENTS_RELAYED.labels(provider=PROVIDER, outcome=outcome).inc(amount)


def set_backlog(events: int, oldest_age_seconds: float) -> None:
    EVENTS_BACKLOG.labels(provider=PROVIDER).set(events)
    OLDEST_UNDELIVERED_AGE.labels(provider=PROVIDER).set(oldest_age_seconds)
    BACKLOG_CHECKED.labels(provider=PROVIDER).set(time.time())
