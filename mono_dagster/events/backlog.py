"""How far behind delivery is: undelivered outbox events and the age of the oldest (index-only reads)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from mono_dagster.storage.tables import pipeline_events


@dataclass(frozen=True)
class Backlog:
    events: int
    oldest_created_at: datetime | None

    def oldest_age_seconds(self, now: datetime) -> float:
        return max((now - self.oldest_created_at).total_seconds(), 0.0) if self.oldest_created_at else 0.0


def read_backlog(conn: sa.Connection) -> Backlog:
    undelivered = pipeline_events.c.delivered_at.is_(None)
    events = conn.execute(sa.select(sa.func.count()).where(undelivered)).scalar_one()
    oldest = conn.execute(
        sa.select(pipeline_events.c.created_at).where(undelivered).order_by(pipeline_events.c.id).limit(1)
    ).scalar_one_or_none()
    return Backlog(int(events), oldest)
