"""Alert de-duplication (`alert_notifications`): a stable key is sent once until it is resolved.

The claim is one statement per step (INSERT ... ON CONFLICT DO NOTHING, then a conditional UPDATE), so
two processes evaluating the same alert at once never both send it. Functions take the caller's
connection and never commit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mono_dagster.storage.sql import dialect_insert
from mono_dagster.storage.tables import alert_notifications, utcnow


@dataclass(frozen=True)
class NotificationRow:
    dedup_key: str
    status: str
    route: str
    severity: str
    summary: str
    details: dict[str, Any]
    send_count: int
    opened_at: datetime
    resolved_at: datetime | None


def claim_notification(
    conn: sa.Connection,
    dedup_key: str,
    *,
    route: str,
    severity: str,
    summary: str,
    details: Mapping[str, Any],
    now: datetime | None = None,
) -> bool:
    """Marks the key open; True when this caller won it (new, resolved or unsent), False when already open."""
    now = now or utcnow()
    values = {
        "route": route,
        "severity": severity,
        "summary": summary,
        "details": json.dumps(details, sort_keys=True, default=str),
        "opened_at": now,
        "resolved_at": None,
    }
    inserted = conn.execute(
        dialect_insert(conn, alert_notifications)
        .values(dedup_key=dedup_key, status="open", send_count=1, **values)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(alert_notifications.c.dedup_key)
    ).scalar_one_or_none()
    if inserted is not None:
        return True
    reopened = conn.execute(
        sa.update(alert_notifications)
        .where(
            alert_notifications.c.dedup_key == dedup_key,
            alert_notifications.c.status.in_(["resolved", "unsent"]),
        )
        .values(status="open", send_count=alert_notifications.c.send_count + 1, **values)
    )
    return reopened.rowcount == 1


def release_notification(conn: sa.Connection, dedup_key: str) -> None:
    """The delivery of a claimed key failed: mark it unsent so the next evaluation tries again."""
    conn.execute(
        sa.update(alert_notifications)
        .where(alert_notifications.c.dedup_key == dedup_key, alert_notifications.c.status == "open")
        .values(status="unsent")
    )


def resolve_notification(conn: sa.Connection, dedup_key: str, *, now: datetime | None = None) -> bool:
    """Closes an open key so it can be sent again; True when it was open."""
    result = conn.execute(
        sa.update(alert_notifications)
        .where(alert_notifications.c.dedup_key == dedup_key, alert_notifications.c.status == "open")
        .values(status="resolved", resolved_at=now or utcnow())
    )
    return result.rowcount == 1


def get_notification(conn: sa.Connection, dedup_key: str) -> NotificationRow | None:
    row = (
        conn.execute(sa.select(alert_notifications).where(alert_notifications.c.dedup_key == dedup_key))
        .mappings()
        .one_or_none()
    )
    return None if row is None else _row(row)


def open_notifications(conn: sa.Connection, key_prefix: str) -> list[NotificationRow]:
    """Open keys starting with `key_prefix`, ordered by key (sensors resolve the ones whose problem ended)."""
    query = (
        sa.select(alert_notifications)
        .where(
            alert_notifications.c.status == "open",
            alert_notifications.c.dedup_key.startswith(key_prefix, autoescape=True),
        )
        .order_by(alert_notifications.c.dedup_key)
    )
    return [_row(row) for row in conn.execute(query).mappings()]


def _row(row: Mapping[str, Any]) -> NotificationRow:
    return NotificationRow(**{**row, "details": json.loads(row["details"])})
