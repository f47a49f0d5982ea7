"""Step 3, persist: the run's canonical stage → `bank_transactions`, in ONE database transaction.

The upsert, the vanished-row bookkeeping, the account registry's success marks and the outbox events
commit together or not at all, so a crash leaves the database as it was and a rerun repeats cleanly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from mono_dagster.observability import metrics
from mono_dagster.pipeline import events
from mono_dagster.pipeline.identity import RunIdentity
from mono_dagster.storage.accounts import record_sync_successes
from mono_dagster.storage.bank_transactions import PersistStats, persist_staged
from mono_dagster.storage.fetch_log import successful_fetches
from mono_dagster.storage.outbox import PipelineEvent, append_events


@dataclass(frozen=True)
class PersistOutcome:
    stats: PersistStats
    accounts: tuple[str, ...]


def persist_run(
    engine: Engine,
    identity: RunIdentity,
    *,
    now: datetime,
    failed_accounts: int = 0,
    before_commit: Callable[[], None] | None = None,
) -> PersistOutcome:
    """`before_commit` runs inside the transaction just before it commits (fault-injection point)."""
    started = time.perf_counter()
    try:
        outcome = _persist(engine, identity, now=now, failed_accounts=failed_accounts, before_commit=before_commit)
    except Exception as exc:
        metrics.observe_stage(metrics.ALL_ACCOUNTS, "persist", time.perf_counter() - started, ok=False)
        metrics.observe_error(metrics.ALL_ACCOUNTS, "persist", exc.__class__.__name__)
        raise
    metrics.observe_stage(metrics.ALL_ACCOUNTS, "persist", time.perf_counter() - started, ok=True)
    metrics.observe_rows(metrics.ALL_ACCOUNTS, ingested=outcome.stats.inserted + outcome.stats.updated)
    for account_id in outcome.accounts:
        metrics.observe_success(account_id, now.timestamp())
    return outcome


def _persist(
    engine: Engine,
    identity: RunIdentity,
    *,
    now: datetime,
    failed_accounts: int,
    before_commit: Callable[[], None] | None,
) -> PersistOutcome:
    with engine.begin() as conn:
        fetches = successful_fetches(conn, identity.run_id)
        stats = persist_staged(
            conn,
            identity.run_id,
            correlation_id=identity.correlation_id,
            complete_windows=[(f.account_id, f.window_start, f.window_end) for f in fetches],
            now=now,
        )
        # One statement per window shared by the run's accounts, not one per account.
        record_sync_successes(conn, [(f.account_id, f.window_start, f.window_end) for f in fetches], now)
        common = {
            "correlation_id": identity.correlation_id,
            "run_id": identity.run_id,
            "partition_key": identity.partition_key,
        }
        outbox = []
        if stats.inserted or stats.updated:
            outbox.append(
                PipelineEvent(
                    event_name=events.BANK_TRANSACTIONS_INGESTED,
                    account_id=None,
                    payload={
                        "inserted": stats.inserted,
                        "updated": stats.updated,
                        "amount_minor_total": stats.amount_minor_total,
                        "accounts": sorted({f.account_id for f in fetches}),
                    },
                    **common,
                )
            )
        outbox.append(
            PipelineEvent(
                event_name=events.PIPELINE_COMPLETED,
                account_id=None,
                payload={
                    "inserted": stats.inserted,
                    "updated": stats.updated,
                    "unchanged": stats.unchanged,
                    "missing": stats.missing,
                    "vanished": stats.vanished,
                    "accounts_synced": len(fetches),
                    "accounts_failed": failed_accounts,
                },
                **common,
            )
        )
        append_events(conn, outbox)
        if before_commit is not None:
            before_commit()
    return PersistOutcome(stats, tuple(f.account_id for f in fetches))
