"""The synthetic check log (`synthetic_checks`): one row per synthetic fetch, newest last.

Functions take the caller's connection and never commit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

import sqlalchemy as sa

from mono_dagster.storage.tables import synthetic_checks

_TEXT_LIMIT = 2_000


@dataclass(frozen=True)
class SyntheticCheckRecord:
    account_id: str
    checked_at: datetime
    run_id: str | None
    window_start: date
    window_end: date
    ok: bool
    latency_seconds: float
    transaction_count: int | None
    requests: int
    error_class: str | None
    status_code: int | None
    error: str | None  # already scrubbed
    consecutive_failures: int
    streak_key: str | None
    paged: bool
    alert_error: str | None


@dataclass(frozen=True)
class SyntheticCheckRow(SyntheticCheckRecord):
    id: int


def record_synthetic_check(conn: sa.Connection, record: SyntheticCheckRecord) -> SyntheticCheckRow:
    values = asdict(record)
    for name in ("error", "alert_error"):
        if values[name] is not None:
            values[name] = values[name][:_TEXT_LIMIT]
    new_id = conn.execute(sa.insert(synthetic_checks).values(**values).returning(synthetic_checks.c.id)).scalar_one()
    return SyntheticCheckRow(id=int(new_id), **values)


def latest_synthetic_check(conn: sa.Connection, account_id: str) -> SyntheticCheckRow | None:
    row = (
        conn.execute(
            sa.select(synthetic_checks)
            .where(synthetic_checks.c.account_id == account_id)
            .order_by(synthetic_checks.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else SyntheticCheckRow(**row)


def list_synthetic_checks(conn: sa.Connection, account_id: str | None = None) -> list[SyntheticCheckRow]:
    """Every check, oldest first (of one account when given)."""
    query = sa.select(synthetic_checks).order_by(synthetic_checks.c.id)
    if account_id is not None:
        query = query.where(synthetic_checks.c.account_id == account_id)
    return [SyntheticCheckRow(**row) for row in conn.execute(query).mappings()]
