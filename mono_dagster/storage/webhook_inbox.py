"""The webhook inbox (`mono_webhook_inbox`): verified Mono deliveries, stored once, then acted on in order.

A delivery is stored on its delivery key with INSERT ... ON CONFLICT DO NOTHING, so the same delivery
sent twice (Mono retries until it gets a 200) is one row. The inbox sensor claims a row, acts and records
the outcome in one transaction. Functions take the caller's connection and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from mono_dagster.storage.sql import dialect_insert
from mono_dagster.storage.tables import WEBHOOK_OUTCOMES, mono_webhook_inbox

_ERROR_LIMIT = 2_000


@dataclass(frozen=True)
class InboxDelivery:
    """A verified delivery as the receiver stores it."""

    delivery_key: str
    event_name: str
    account_id: str | None
    payload: str  # JSON text, already masked
    received_at: datetime


@dataclass(frozen=True)
class InboxRow:
    id: int
    delivery_key: str
    event_name: str
    account_id: str | None
    payload: str
    received_at: datetime
    attempts: int
    last_error: str | None
    processed_at: datetime | None
    outcome: str | None
    detail: str | None
    run_request: str | None


def store_delivery(conn: sa.Connection, delivery: InboxDelivery) -> bool:
    """Stores the delivery unless its key is already in the inbox; True if it was new."""
    statement = (
        dialect_insert(conn, mono_webhook_inbox)
        .values(
            delivery_key=delivery.delivery_key,
            event_name=delivery.event_name,
            account_id=delivery.account_id,
            payload=delivery.payload,
            received_at=delivery.received_at,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["delivery_key"])
        .returning(mono_webhook_inbox.c.id)
    )
    return conn.execute(statement).scalar_one_or_none() is not None


def unprocessed(conn: sa.Connection, limit: int = 100) -> list[InboxRow]:
    """The oldest unprocessed deliveries, in arrival (`id`) order."""
    query = (
        sa.select(mono_webhook_inbox)
        .where(mono_webhook_inbox.c.processed_at.is_(None))
        .order_by(mono_webhook_inbox.c.id)
        .limit(limit)
    )
    return [InboxRow(**row) for row in conn.execute(query).mappings()]


def runs_requested_since(conn: sa.Connection, after: datetime) -> list[InboxRow]:
    """Processed rows that asked for a run, processed after `after` (what a crashed tick may not have returned)."""
    query = (
        sa.select(mono_webhook_inbox)
        .where(mono_webhook_inbox.c.processed_at > after, mono_webhook_inbox.c.run_request.is_not(None))
        .order_by(mono_webhook_inbox.c.id)
    )
    return [InboxRow(**row) for row in conn.execute(query).mappings()]


def claim(conn: sa.Connection, row_id: int, at: datetime) -> bool:
    """Marks the row processed at `at` if nobody has; False if it already was (the caller then does nothing).

    On Postgres the UPDATE also locks the row until the caller's transaction ends.
    """
    result = conn.execute(
        sa.update(mono_webhook_inbox)
        .where(mono_webhook_inbox.c.id == row_id, mono_webhook_inbox.c.processed_at.is_(None))
        .values(processed_at=at)
    )
    return result.rowcount == 1


def record_outcome(conn: sa.Connection, row_id: int, outcome: str, detail: str, run_request: str | None = None) -> None:
    """The claimed row's outcome (see `WEBHOOK_OUTCOMES`), a line saying why, and the run it asked for."""
    if outcome not in WEBHOOK_OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(WEBHOOK_OUTCOMES)}, got {outcome!r}")
    conn.execute(
        sa.update(mono_webhook_inbox)
        .where(mono_webhook_inbox.c.id == row_id)
        .values(outcome=outcome, detail=detail[:_ERROR_LIMIT], run_request=run_request)
    )


def record_failed_attempt(conn: sa.Connection, row_id: int, error: str) -> int:
    """Counts a failed attempt at acting on an unprocessed row; returns the attempts so far."""
    statement = (
        sa.update(mono_webhook_inbox)
        .where(mono_webhook_inbox.c.id == row_id)
        .values(attempts=mono_webhook_inbox.c.attempts + 1, last_error=error[:_ERROR_LIMIT])
        .returning(mono_webhook_inbox.c.attempts)
    )
    return int(conn.execute(statement).scalar_one())


def recent_rows(conn: sa.Connection, limit: int = 20) -> list[InboxRow]:
    """The newest rows, newest first (the CLI's and the runbook's view of the inbox)."""
    query = sa.select(mono_webhook_inbox).order_by(mono_webhook_inbox.c.id.desc()).limit(limit)
    return [InboxRow(**row) for row in conn.execute(query).mappings()]
