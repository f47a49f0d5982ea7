"""The RFC's pipeline event names and payload builders for the `pipeline_events` outbox."""

from __future__ import annotations

from typing import Any, Final

BANK_TRANSACTIONS_INGESTED: Final = "bank.transactions.ingested"
PIPELINE_COMPLETED: Final = "mono.pipeline.completed"
FETCH_FAILED: Final = "mono.fetch.failed"
FETCH_LATENCY_SLA_EXCEEDED: Final = "mono.fetch.latency_sla_exceeded"
FETCH_ZERO_TRANSACTIONS: Final = "mono.fetch.zero_transactions"

# RFC: "Alert thresholds: latency SLA >2s (warn + event), failure streak >=5 (error + escalation payload)".
LATENCY_SLA_SECONDS: Final = 2.0
FAILURE_STREAK_ESCALATION: Final = 5


def window_payload(start: Any, end: Any) -> dict[str, str]:
    return {"window_start": str(start), "window_end": str(end)}
