"""Chat warnings from the fetch history: latency SLA breaches and zero-transaction streaks.

Latency: the sync writes `mono.fetch.latency_sla_exceeded` to `pipeline_events` when a page of a fetch
took longer than the RFC's 2 s SLA (`mono_fetches` keeps only the whole window's time, which includes
paging and rate-limit waits, so the event is the RFC's measure). Each new event becomes a warning,
de-duplicated per account and UTC day. Zero transactions: an active account whose last N successful
fetches (one per run, N = `MONO_ZERO_TRANSACTION_STREAK`, default 3) all returned no rows gets one
warning per streak, resolved when a fetch returns rows again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mono_dagster.notify.alert import Alert
from mono_dagster.pipeline import events
from mono_dagster.storage.notifications import open_notifications
from mono_dagster.storage.tables import mono_accounts, mono_fetches, pipeline_events

LATENCY_KEY_PREFIX = f"{events.FETCH_LATENCY_SLA_EXCEEDED}:"
ZERO_KEY_PREFIX = f"{events.FETCH_ZERO_TRANSACTIONS}:"


@dataclass(frozen=True)
class LatencyBreach:
    event_id: int  # pipeline_events.id: the sensor's cursor
    alert: Alert


def latency_breaches(conn: sa.Connection, *, after_id: int, since: datetime, limit: int = 1000) -> list[LatencyBreach]:
    """Latency events newer than `after_id` (and `since`), as warnings, oldest first."""
    query = (
        sa.select(
            pipeline_events.c.id,
            pipeline_events.c.account_id,
            pipeline_events.c.run_id,
            pipeline_events.c.correlation_id,
            pipeline_events.c.partition_key,
            pipeline_events.c.payload,
            pipeline_events.c.created_at,
            mono_accounts.c.account_number_masked,
            mono_accounts.c.institution,
        )
        .select_from(
            pipeline_events.outerjoin(mono_accounts, mono_accounts.c.account_id == pipeline_events.c.account_id)
        )
        .where(
            pipeline_events.c.event_name == events.FETCH_LATENCY_SLA_EXCEEDED,
            pipeline_events.c.id > after_id,
            pipeline_events.c.created_at >= since,
        )
        .order_by(pipeline_events.c.id)
        .limit(limit)
    )
    breaches = []
    for row in conn.execute(query).mappings():
        payload: dict[str, Any] = json.loads(row["payload"])
        account = row["account_id"] or "unknown"
        slowest = payload.get("slowest_page_seconds")
        window = f"{payload.get('window_start')}..{payload.get('window_end')}"
        details = {
            "account_id": account,
            "account_number_masked": row["account_number_masked"],
            "institution": row["institution"],
            "slowest_page_seconds": slowest,
            "sla_seconds": payload.get("sla_seconds", events.LATENCY_SLA_SECONDS),
            "window": window,
            "retries": payload.get("retries"),
            "partition": row["partition_key"],
            "run_id": row["run_id"],
            "correlation_id": row["correlation_id"],
            "component": "mono_raw_transactions",
            "class": events.FETCH_LATENCY_SLA_EXCEEDED,
        }
        alert = Alert(
            dedup_key=f"{LATENCY_KEY_PREFIX}{account}:{row['created_at'].date().isoformat()}",
            severity="warning",
            route="chat",
            summary=(
                f"Mono latency SLA breached for account {account}: slowest page {slowest} s "
                f"(SLA {events.LATENCY_SLA_SECONDS:g} s), window {window}"
            ),
            details=details,
        )
        breaches.append(LatencyBreach(event_id=int(row["id"]), alert=alert))
    return breaches


@dataclass(frozen=True)
class ZeroStreaks:
    warnings: tuple[Alert, ...]  # accounts whose last N fetches were all empty
    ended: tuple[str, ...]  # open zero-transaction keys whose account fetched rows again (or is gone)


def zero_transaction_streaks(conn: sa.Connection, streak: int) -> ZeroStreaks:
    latest = _latest_fetches_per_run(conn, streak)
    accounts = {
        row.account_id: row
        for row in conn.execute(
            sa.select(
                mono_accounts.c.account_id,
                mono_accounts.c.account_number_masked,
                mono_accounts.c.institution,
                mono_accounts.c.shard,
            ).where(mono_accounts.c.status == "active")
        )
    }
    warnings = []
    for account_id, fetches in sorted(latest.items()):
        account = accounts.get(account_id)
        if account is None or len(fetches) < streak or any(count for count, *_ in fetches):
            continue
        windows = [f"{start}..{end}" for _, start, end, _ in fetches]
        warnings.append(
            Alert(
                dedup_key=ZERO_KEY_PREFIX + account_id,
                severity="warning",
                route="chat",
                summary=(
                    f"Mono returned no transactions for account {account_id} in its last {streak} fetches "
                    "(account disconnected, or a wrong window?)"
                ),
                details={
                    "account_id": account_id,
                    "account_number_masked": account.account_number_masked,
                    "institution": account.institution,
                    "shard": account.shard,
                    "empty_fetches": streak,
                    "windows": windows,
                    "last_run_id": fetches[0][3],
                    "component": "mono_raw_transactions",
                    "class": events.FETCH_ZERO_TRANSACTIONS,
                },
            )
        )
    warned = {alert.dedup_key for alert in warnings}
    ended = tuple(
        row.dedup_key
        for row in open_notifications(conn, ZERO_KEY_PREFIX)
        if row.dedup_key not in warned
        and (
            row.dedup_key.removeprefix(ZERO_KEY_PREFIX) not in accounts
            or any(count for count, *_ in latest.get(row.dedup_key.removeprefix(ZERO_KEY_PREFIX), [])[:1])
        )
    )
    return ZeroStreaks(tuple(warnings), ended)


def _latest_fetches_per_run(conn: sa.Connection, limit: int) -> dict[str, list[tuple[int, Any, Any, str]]]:
    """Per account, its newest `limit` successful fetches, one per run: (rows, window start, end, run id)."""
    per_run = (
        sa.select(sa.func.max(mono_fetches.c.id).label("id"))
        .where(mono_fetches.c.status == "ok")
        .group_by(mono_fetches.c.account_id, mono_fetches.c.run_id)
        .subquery()
    )
    ranked = (
        sa.select(
            mono_fetches.c.account_id,
            mono_fetches.c.transaction_count,
            mono_fetches.c.window_start,
            mono_fetches.c.window_end,
            mono_fetches.c.run_id,
            sa.func.row_number()
            .over(partition_by=mono_fetches.c.account_id, order_by=mono_fetches.c.id.desc())
            .label("rank"),
        )
        .join(per_run, per_run.c.id == mono_fetches.c.id)
        .subquery()
    )
    query = sa.select(ranked).where(ranked.c.rank <= limit).order_by(ranked.c.account_id, ranked.c.rank)
    found: dict[str, list[tuple[int, Any, Any, str]]] = {}
    for row in conn.execute(query):
        found.setdefault(row.account_id, []).append(
            (int(row.transaction_count), row.window_start, row.window_end, row.run_id)
        )
    return found


__all__: Sequence[str] = ["LatencyBreach", "ZeroStreaks", "latency_breaches", "zero_transaction_streaks"]
