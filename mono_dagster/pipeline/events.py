"""The RFC's pipeline event names and payload builders for the `pipeline_events` outbox."""

from __future__ import annotations

from typing import Any, Final

BANK_TRANSACTIONS_INGESTED: Final = "bank.transactions.ingested"
PIPELINE_COMPLETED: Final = "mono.pipeline.completed"
FETCH_STARTED: Final = "mono.fetch.started"
FETCH_COMPLETED: Final = "mono.fetch.completed"
FETCH_FAILED: Final = "mono.fetch.failed"
FETCH_LATENCY_SLA_EXCEEDED: Final = "mono.fetch.latency_sla_exceeded"
FETCH_ZERO_TRANSACTIONS: Final = "mono.fetch.zero_transactions"
# The RFC asks for an "escalation payload" at a failure streak of 5 but names no event: these are ours.
SYNC_ESCALATED: Final = "mono.sync.escalated"
SYNC_ESCALATION_RESOLVED: Final = "mono.sync.escalation_resolved"

# RFC: "Alert thresholds: latency SLA >2s (warn + event), failure streak >=5 (error + escalation payload)".
LATENCY_SLA_SECONDS: Final = 2.0
FAILURE_STREAK_ESCALATION: Final = 5


def window_payload(start: Any, end: Any) -> dict[str, str]:
    return {"window_start": str(start), "window_end": str(end)}
