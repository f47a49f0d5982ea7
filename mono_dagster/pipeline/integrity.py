"""The per-account integrity summary the CLI prints after a backfill, resync or smoke run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from mono_dagster.mono import DateWindow
from mono_dagster.storage.fetch_log import fetches_for_runs
from mono_dagster.storage.reconciliation import balance_breaks, duplicate_keys
from mono_dagster.storage.tables import bank_transactions, quarantined_transactions


@dataclass(frozen=True)
class AccountIntegrity:
    account_id: str
    status: str  # ok | failed | not fetched
    fetched: int
    persisted: int
    quarantined: int
    duplicates: int
    balance_breaks: int

    @property
    def healthy(self) -> bool:
        return self.status == "ok" and self.duplicates == 0 and self.persisted + self.quarantined >= self.fetched


def integrity_summary(
    engine: Engine, run_ids: Sequence[str], account_ids: Sequence[str], window: DateWindow
) -> list[AccountIntegrity]:
    summaries = []
    with engine.connect() as conn:
        fetches = fetches_for_runs(conn, run_ids)
        for account_id in account_ids:
            mine = [fetch for fetch in fetches if fetch.account_id == account_id]
            if not mine:
                status = "not fetched"
            elif all(fetch.status == "ok" for fetch in mine):
                status = "ok"
            else:
                status = "failed"
            persisted = conn.execute(
                sa.select(sa.func.count())
                .select_from(bank_transactions)
                .where(bank_transactions.c.account_id == account_id)
                .where(bank_transactions.c.posted_date.between(window.start, window.end))
            ).scalar_one()
            quarantined = conn.execute(
                sa.select(sa.func.count())
                .select_from(quarantined_transactions)
                .where(quarantined_transactions.c.account_id == account_id)
                .where(quarantined_transactions.c.window_start <= window.end)
                .where(quarantined_transactions.c.window_end >= window.start)
            ).scalar_one()
            summaries.append(
                AccountIntegrity(
                    account_id=account_id,
                    status=status,
                    fetched=sum(fetch.transaction_count for fetch in mine if fetch.status == "ok"),
                    persisted=int(persisted),
                    quarantined=int(quarantined),
                    duplicates=len(duplicate_keys(conn, [account_id], window.start, window.end)),
                    balance_breaks=len(balance_breaks(conn, account_id, window.start, window.end)),
                )
            )
    return summaries
