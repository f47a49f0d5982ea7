"""Small builders of the frames and records the storage layer accepts, with the transform's dtypes.

Tests build their own frames rather than importing the transform, so storage is tested alone.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa

from mono_dagster.records import CANONICAL_COLUMNS, QUARANTINE_COLUMNS
from mono_dagster.storage.raw_pages import RawPageRecord
from mono_dagster.storage.tables import metadata

NAMESPACE = uuid.UUID("6f1c1b8e-6b43-4b53-9b8e-3a3c0f4f7d21")
T0 = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)

_HASHED = (
    "posted_at",
    "direction",
    "amount_minor",
    "currency",
    "balance_after_minor",
    "narration",
    "category",
)


def canonical_row(
    account_id: str = "acc-1",
    provider_transaction_id: str = "txn-1",
    *,
    posted_at: datetime = T0,
    amount_minor: int = 150_000,
    direction: str = "debit",
    balance_after_minor: int | None = None,
    narration: str = "POS PURCHASE SHOPRITE",
    raw_page_id: int = 1,
    **overrides: Any,
) -> dict[str, Any]:
    """One canonical record; `content_hash` follows the business fields, as the transform's does."""
    sign = -1 if direction == "debit" else 1
    row: dict[str, Any] = {
        "transaction_id": str(uuid.uuid5(NAMESPACE, f"mono:{account_id}:{provider_transaction_id}")),
        "provider": "mono",
        "account_id": account_id,
        "provider_transaction_id": provider_transaction_id,
        "account_number_masked": "******1234",
        "institution": "GTBank",
        "posted_at": posted_at,
        "posted_date": posted_at.astimezone(UTC).date(),
        "posted_date_lagos": (posted_at.astimezone(UTC) + timedelta(hours=1)).date(),
        "direction": direction,
        "amount_minor": amount_minor,
        "amount": Decimal(amount_minor) / 100,
        "signed_amount_minor": sign * amount_minor,
        "signed_amount": Decimal(sign * amount_minor) / 100,
        "currency": "NGN",
        "balance_after_minor": balance_after_minor,
        "narration": narration,
        "category": "uncategorised",
        "provider_category": None,
        "channel": "POS",
        "content_hash": "",
        "raw_page_id": raw_page_id,
    }
    row.update(overrides)
    if not overrides.get("content_hash"):
        fields = json.dumps([str(row[name]) for name in _HASHED])
        row["content_hash"] = hashlib.sha256(fields.encode()).hexdigest()
    return row


def canonical_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A frame exactly as `to_canonical()` returns it: the canonical columns, in order, its dtypes."""
    frame = pd.DataFrame(rows, columns=list(CANONICAL_COLUMNS))
    frame["posted_at"] = pd.Series(pd.to_datetime(list(frame["posted_at"]), utc=True), dtype="datetime64[ns, UTC]")
    for column in ("amount_minor", "signed_amount_minor", "raw_page_id"):
        frame[column] = frame[column].astype("int64")
    frame["balance_after_minor"] = pd.array(list(frame["balance_after_minor"]), dtype="Int64")
    for column in ("posted_date", "posted_date_lagos", "amount", "signed_amount"):
        frame[column] = frame[column].astype(object)
    return frame


def daily_rows(account_id: str, days: int, per_day: int = 1, *, start: datetime = T0) -> list[dict[str, Any]]:
    """A running-balance series of credits: per_day transactions a day for `days` days."""
    rows = []
    balance = 1_000_000
    for day in range(days):
        for index in range(per_day):
            amount = 1_000 * (index + 1)
            balance += amount
            rows.append(
                canonical_row(
                    account_id,
                    f"{account_id}-d{day:03d}-{index:02d}",
                    posted_at=start + timedelta(days=day, minutes=index),
                    amount_minor=amount,
                    direction="credit",
                    balance_after_minor=balance,
                )
            )
    return rows


def quarantine_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(QUARANTINE_COLUMNS))
    frame["raw_page_id"] = frame["raw_page_id"].astype("int64")
    return frame


def quarantine_row(
    account_id: str = "acc-1",
    provider_transaction_id: str | None = "bad-1",
    reason: str = "amount: not a number (ab**)",
    raw_page_id: int = 1,
) -> dict[str, Any]:
    raw = json.dumps({"id": provider_transaction_id, "amount": "abc"}, sort_keys=True)
    return {
        "account_id": account_id,
        "provider_transaction_id": provider_transaction_id,
        "reason": reason,
        "raw_record": raw,
        "raw_page_id": raw_page_id,
    }


def raw_page(
    account_id: str = "acc-1",
    page_number: int = 1,
    *,
    payload: str | None = None,
    window: tuple[date, date] = (date(2024, 3, 1), date(2024, 3, 7)),
    run_id: str = "run-1",
    fetched_at: datetime = NOW,
    shape: str = "v2",
) -> RawPageRecord:
    body = (
        payload if payload is not None else json.dumps({"data": [{"id": f"{account_id}-p{page_number}"}], "meta": {}})
    )
    return RawPageRecord(
        account_id=account_id,
        window_start=window[0],
        window_end=window[1],
        page_number=page_number,
        response_shape=shape,
        payload=body,
        transaction_count=1,
        fetched_at=fetched_at,
        run_id=run_id,
        correlation_id=f"corr-{run_id}",
    )


def snapshot(conn: sa.Connection, *, exclude: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every pipeline table, sorted: equal snapshots mean nothing was written."""
    return {
        table.name: sorted((tuple(row) for row in conn.execute(sa.select(table))), key=repr)
        for table in metadata.sorted_tables
        if table.name not in exclude
    }
