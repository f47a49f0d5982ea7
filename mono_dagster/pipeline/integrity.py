"""The per-account integrity summary the CLI prints after a backfill, resync or smoke run.

A backfill may cover thousands of accounts, so every figure comes from a grouped query per chunk of
accounts, never a query per account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from mono_dagster.mono import DateWindow
from mono_dagster.storage.balance_checks import balance_breaks_by_account
from mono_dagster.storage.fetch_log import FetchRow, fetches_for_runs
from mono_dagster.storage.sql import chunked
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
    bank, quarantine = bank_transactions, quarantined_transactions
    in_window = bank.c.posted_date.between(window.start, window.end)
    overlaps = sa.and_(quarantine.c.window_start <= window.end, quarantine.c.window_end >= window.start)
    with engine.connect() as conn:
        fetches: dict[str, list[FetchRow]] = defaultdict(list)
        for fetch in fetches_for_runs(conn, run_ids):
            fetches[fetch.account_id].append(fetch)
        persisted = _per_account(conn, account_ids, lambda chunk: _count_by_account(bank, in_window, chunk))
        quarantined = _per_account(conn, account_ids, lambda chunk: _count_by_account(quarantine, overlaps, chunk))
        duplicates = _per_account(conn, account_ids, lambda chunk: _duplicates_by_account(in_window, chunk))
        breaks = balance_breaks_by_account(conn, account_ids, window.start, window.end)
    summaries = []
    for account_id in account_ids:
        mine = fetches.get(account_id, [])
        if not mine:
            status = "not fetched"
        elif all(fetch.status == "ok" for fetch in mine):
            status = "ok"
        else:
            status = "failed"
        summaries.append(
            AccountIntegrity(
                account_id=account_id,
                status=status,
                fetched=sum(fetch.transaction_count for fetch in mine if fetch.status == "ok"),
                persisted=persisted.get(account_id, 0),
                quarantined=quarantined.get(account_id, 0),
                duplicates=duplicates.get(account_id, 0),
                balance_breaks=len(breaks.get(account_id, [])),
            )
        )
    return summaries


def _per_account(
    conn: sa.Connection, account_ids: Sequence[str], query_for: Callable[[Sequence[str]], sa.Select]
) -> dict[str, int]:
    """Sums (account_id, count) rows of the query run once per chunk of accounts."""
    counts: dict[str, int] = defaultdict(int)
    for chunk in chunked(sorted(set(account_ids))):
        for account_id, count in conn.execute(query_for(chunk)):
            counts[str(account_id)] += int(count)
    return counts


def _count_by_account(table: sa.Table, condition: sa.ColumnElement[bool], chunk: Sequence[str]) -> sa.Select:
    return (
        sa.select(table.c.account_id, sa.func.count())
        .where(table.c.account_id.in_(chunk), condition)
        .group_by(table.c.account_id)
    )


def _duplicates_by_account(in_window: sa.ColumnElement[bool], chunk: Sequence[str]) -> sa.Select:
    """Keys stored more than once per account: (account, Mono id) pairs and transaction ids alike."""
    bank = bank_transactions
    scope = sa.and_(bank.c.account_id.in_(chunk), in_window)
    natural = (
        sa.select(bank.c.account_id)
        .where(scope)
        .group_by(bank.c.account_id, bank.c.provider_transaction_id)
        .having(sa.func.count() > 1)
    )
    by_id = (
        sa.select(sa.func.min(bank.c.account_id).label("account_id"))
        .where(scope)
        .group_by(bank.c.transaction_id)
        .having(sa.func.count() > 1)
    )
    repeated = sa.union_all(natural, by_id).subquery()
    return sa.select(repeated.c.account_id, sa.func.count()).group_by(repeated.c.account_id)
