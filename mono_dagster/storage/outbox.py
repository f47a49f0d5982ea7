"""The transactional outbox (`pipeline_events`): events written in the same transaction as the data.

An event exists exactly when the change it announces committed. A relay reads undelivered events
in `id` order, publishes them and marks them delivered; delivery is at-least-once, so consumers
deduplicate on `event_id`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mono_dagster.observability.scrub import scrub_value
from mono_dagster.storage.sql import chunked
from mono_dagster.storage.tables import pipeline_events, utcnow


@dataclass(frozen=True)
class PipelineEvent:
    """An event to append; `event_id` and `created_at` are filled in when not given."""

    event_name: str
    account_id: str | None
    correlation_id: str
    run_id: str
    partition_key: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class StoredEvent:
    """An event as the outbox holds it; `id` is its delivery order."""

    id: int
    event_id: str
    event_name: str
    account_id: str | None
    correlation_id: str
    run_id: str
    partition_key: str | None
    payload: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None
    delivery_attempts: int


def append_events(conn: sa.Connection, events: Iterable[PipelineEvent]) -> None:
    """Appends the events in the order given (their delivery order), payload text scrubbed of secrets and PII."""
    rows = [
        {
            "event_id": event.event_id,
            "event_name": event.event_name,
            "account_id": event.account_id,
            "correlation_id": event.correlation_id,
            "run_id": event.run_id,
            "partition_key": event.partition_key,
            # default=str: dates and Decimals in payloads become their ISO / decimal text.
            "payload": json.dumps(scrub_value(event.payload), sort_keys=True, default=str),
            "created_at": event.created_at,
            "delivery_attempts": 0,
        }
        for event in events
    ]
    if rows:
        # executemany runs the INSERTs in list order, so `id` follows the order given.
        conn.execute(sa.insert(pipeline_events), rows)


def undelivered_events(conn: sa.Connection, limit: int = 100, *, lock: bool = False) -> list[StoredEvent]:
    """The oldest undelivered events, in delivery order.

    `lock=True` (Postgres) locks them with SKIP LOCKED so concurrent relays never take the same event;
    the lock lasts until the caller's transaction ends.
    """
    query = (
        sa.select(pipeline_events)
        .where(pipeline_events.c.delivered_at.is_(None))
        .order_by(pipeline_events.c.id)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    return [StoredEvent(**{**row, "payload": json.loads(row["payload"])}) for row in conn.execute(query).mappings()]


def mark_delivered(conn: sa.Connection, event_ids: Sequence[str], at: datetime) -> int:
    """Marks events delivered (counting the attempt); returns how many were still undelivered."""
    return _update_events(
        conn,
        event_ids,
        delivered_at=at,
        delivery_attempts=pipeline_events.c.delivery_attempts + 1,
    )


def record_failed_delivery(conn: sa.Connection, event_ids: Sequence[str]) -> int:
    """Counts a failed delivery attempt on undelivered events; returns how many were updated."""
    return _update_events(conn, event_ids, delivery_attempts=pipeline_events.c.delivery_attempts + 1)


def _update_events(conn: sa.Connection, event_ids: Sequence[str], **values: Any) -> int:
    updated = 0
    for chunk in chunked(dict.fromkeys(event_ids)):
        result = conn.execute(
            sa.update(pipeline_events)
            .where(pipeline_events.c.event_id.in_(chunk), pipeline_events.c.delivered_at.is_(None))
            .values(**values)
        )
        updated += int(result.rowcount)
    return updated
