"""The fetch log (`mono_fetches`): which account windows a run fetched, how it went, and which pages.

Raw pages are stored once however often they are fetched, so a page's own `run_id` is the first run
that saw it; the log is how later steps find *this* run's pages. A step retried within a run logs a
window again: the latest entry per (account, window) is the one that counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from mono_dagster.storage.sql import chunked
from mono_dagster.storage.tables import FETCH_STATUSES, mono_fetches, utcnow

_ERROR_LIMIT = 2_000


@dataclass(frozen=True)
class FetchRecord:
    """One account window fetched by a run (`status` "ok" or "failed")."""

    run_id: str
    correlation_id: str
    account_id: str
    window_start: date
    window_end: date
    status: str
    raw_page_ids: tuple[int, ...] = ()
    transaction_count: int = 0
    duplicates_dropped: int = 0
    requests: int = 0
    retries: int = 0
    restarts: int = 0
    elapsed_seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class FetchRow(FetchRecord):
    id: int = 0
    recorded_at: datetime | None = None


def record_fetch(conn: sa.Connection, record: FetchRecord, *, at: datetime | None = None) -> int:
    """Logs the fetch; returns its row id."""
    statement = sa.insert(mono_fetches).values(_values(record, at or utcnow())).returning(mono_fetches.c.id)
    return int(conn.execute(statement).scalar_one())


def record_fetches(conn: sa.Connection, records: Sequence[FetchRecord], *, at: datetime | None = None) -> None:
    """Logs many fetches in one statement (a run logs its accounts a batch at a time), in the order given."""
    if records:
        now = at or utcnow()
        conn.execute(sa.insert(mono_fetches), [_values(record, now) for record in records])


def _values(record: FetchRecord, at: datetime) -> dict[str, object]:
    if record.status not in FETCH_STATUSES:
        raise ValueError(f"fetch status must be one of {', '.join(FETCH_STATUSES)}, got {record.status!r}")
    return {
        "run_id": record.run_id,
        "correlation_id": record.correlation_id,
        "account_id": record.account_id,
        "window_start": record.window_start,
        "window_end": record.window_end,
        "status": record.status,
        "raw_page_ids": json.dumps([int(page_id) for page_id in record.raw_page_ids]),
        "transaction_count": record.transaction_count,
        "duplicates_dropped": record.duplicates_dropped,
        "requests": record.requests,
        "retries": record.retries,
        "restarts": record.restarts,
        "elapsed_seconds": float(record.elapsed_seconds),
        "error": None if record.error is None else record.error[:_ERROR_LIMIT],
        "recorded_at": at,
    }


def latest_fetches(conn: sa.Connection, run_id: str) -> list[FetchRow]:
    """The run's latest log entry per (account, window), ordered by account and window."""
    return fetches_for_runs(conn, [run_id])


def fetches_for_runs(conn: sa.Connection, run_ids: Sequence[str]) -> list[FetchRow]:
    """The latest entry per (run, account, window) of these runs, ordered by account, window and run."""
    latest: dict[tuple[str, date, date, str], FetchRow] = {}
    for chunk in chunked(sorted(set(run_ids))):
        query = sa.select(mono_fetches).where(mono_fetches.c.run_id.in_(chunk)).order_by(mono_fetches.c.id)
        for row in conn.execute(query).mappings():
            values = dict(row)
            values["raw_page_ids"] = tuple(json.loads(values["raw_page_ids"]))
            fetch = FetchRow(**values)
            latest[(fetch.account_id, fetch.window_start, fetch.window_end, fetch.run_id)] = fetch
    return [latest[key] for key in sorted(latest)]


def successful_fetches(conn: sa.Connection, run_id: str) -> list[FetchRow]:
    """Windows whose latest fetch in the run succeeded: the run's complete windows."""
    return [fetch for fetch in latest_fetches(conn, run_id) if fetch.status == "ok"]


def failed_fetches(conn: sa.Connection, run_id: str) -> list[FetchRow]:
    """Windows whose latest fetch in the run failed."""
    return [fetch for fetch in latest_fetches(conn, run_id) if fetch.status == "failed"]
