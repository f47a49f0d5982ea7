"""`RunIdentity`: what ties every row, event and log line of one run together."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunIdentity:
    run_id: str
    correlation_id: str
    partition_key: str | None = None
