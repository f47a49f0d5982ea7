"""The receiver's metrics: deliveries by outcome, and how long answering took."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

PROVIDER: Final = "mono"
OUTCOMES: Final = ("stored", "duplicate", "unauthorized", "too_large", "malformed", "error")

DELIVERIES = Counter(
    "taxpoynt_mono_webhook_deliveries_total",
    "Mono webhook deliveries by outcome: stored, duplicate (already in the inbox), unauthorized, too_large, "
    "malformed, error (not stored; Mono retries).",
    ["provider", "outcome"],
)
RESPONSE_SECONDS = Histogram(
    "taxpoynt_mono_webhook_response_seconds",
    "Seconds from a delivery's arrival to the receiver's answer, inbox write included.",
    ["provider"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

for _outcome in OUTCOMES:  # every outcome is exported from the start, at 0
    DELIVERIES.labels(PROVIDER, _outcome)


def observe_delivery(outcome: str, seconds: float) -> None:
    DELIVERIES.labels(PROVIDER, outcome).inc()
    RESPONSE_SECONDS.labels(PROVIDER).observe(seconds)
