"""Quarantined transactions: rows the transform refused, kept with a reason, never silently dropped.

A row is quarantined once, keyed by sha256 of (account, Mono id, raw record, reason). Seeing it again
in a later run adds nothing but moves the row's `run_id` to that run, so "seen in this run" (which
the persist step uses to tell a bad row from a vanished one) holds on every rerun. Equal rows within
one batch (two id-less rows Mono sent alike) are still each kept: the second and later copies' keys
also hash their occurrence number, which a rerun of the same pages gives them again.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from mono_dagster.records import QUARANTINE_COLUMNS
from mono_dagster.storage.frames import column_values, require_columns
from mono_dagster.storage.sql import chunked, dialect_insert
from mono_dagster.storage.tables import quarantined_transactions

_SEPARATOR = "\x1f"  # ASCII unit separator: cannot be confused with text inside the fields


def quarantine_key(
    account_id: str, provider_transaction_id: str | None, raw_record: str, reason: str, occurrence: int = 0
) -> str:
    """The row's identity; ``occurrence`` counts earlier equal rows of the batch (0 keeps the original key)."""
    parts = (account_id, provider_transaction_id or "", raw_record, reason, *([str(occurrence)] if occurrence else []))
    return hashlib.sha256(_SEPARATOR.join(parts).encode("utf-8")).hexdigest()


def quarantine_rows(
    conn: sa.Connection,
    frame: pd.DataFrame,
    *,
    run_id: str,
    correlation_id: str,
    window_start: date,
    window_end: date,
    now: datetime,
) -> int:
    """Quarantines the frame's rows (`records.QUARANTINE_COLUMNS`); returns how many were new."""
    require_columns(frame, QUARANTINE_COLUMNS, "quarantine")
    if frame.empty:
        return 0
    rows: dict[str, dict[str, Any]] = {}
    columns = [column_values(frame[column]) for column in QUARANTINE_COLUMNS]
    for account_id, provider_transaction_id, reason, raw_record, raw_page_id in zip(*columns, strict=True):
        provider_id = None if provider_transaction_id in (None, "") else str(provider_transaction_id)
        key = quarantine_key(str(account_id), provider_id, str(raw_record), str(reason))
        occurrence = 0
        while key in rows:
            occurrence += 1
            key = quarantine_key(str(account_id), provider_id, str(raw_record), str(reason), occurrence)
        rows[key] = {
            "quarantine_key": key,
            "account_id": str(account_id),
            "provider_transaction_id": provider_id,
            "reason": str(reason),
            "raw_record": str(raw_record),
            "raw_page_id": None if raw_page_id is None else int(raw_page_id),
            "run_id": run_id,
            "first_run_id": run_id,
            "correlation_id": correlation_id,
            "window_start": window_start,
            "window_end": window_end,
            "quarantined_at": now,
            "last_seen_at": now,
        }
    table = quarantined_transactions
    known: set[str] = set()
    for chunk in chunked(sorted(rows)):
        known.update(conn.execute(sa.select(table.c.quarantine_key).where(table.c.quarantine_key.in_(chunk))).scalars())
    insert = dialect_insert(conn, table)
    statement = insert.on_conflict_do_update(
        index_elements=["quarantine_key"],
        set_={
            "run_id": insert.excluded.run_id,
            "correlation_id": insert.excluded.correlation_id,
            "window_start": insert.excluded.window_start,
            "window_end": insert.excluded.window_end,
            "last_seen_at": insert.excluded.last_seen_at,
        },
    )
    conn.execute(statement, list(rows.values()))
    return len(rows.keys() - known)


def count_quarantined(conn: sa.Connection, *, run_id: str | None = None, account_id: str | None = None) -> int:
    """Quarantined rows, optionally only those last seen by `run_id` and/or of `account_id`."""
    table = quarantined_transactions
    query = sa.select(sa.func.count()).select_from(table)
    if run_id is not None:
        query = query.where(table.c.run_id == run_id)
    if account_id is not None:
        query = query.where(table.c.account_id == account_id)
    return int(conn.execute(query).scalar_one())
