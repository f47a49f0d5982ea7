"""Read-only queries behind the asset checks: what a run fetched, duplicates, balance breaks, staleness.

They recount from what the sync recorded and the stored rows, never from the persist step's own
counters, so a bug in the upsert cannot vouch for itself. Reconciliation is by counts, in SQL: no page
is parsed again (`run_counts`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from mono_dagster.records import PROVIDER
from mono_dagster.storage.bank_transactions import accounts_by_spans, quarantined_in_run
from mono_dagster.storage.fetch_log import FetchRow, successful_fetches
from mono_dagster.storage.sql import chunked
from mono_dagster.storage.tables import bank_transactions, mono_accounts, mono_raw_pages, quarantined_transactions

DUPLICATE_SAMPLE_LIMIT = 100


@dataclass(frozen=True)
class AccountCounts:
    """One account of a run: what Mono returned against what the database holds for it.

    `fetched` is the sum of the run's raw pages' `transaction_count` (every object each page held, as
    the client parsed it on arrival) less the repeats the client dropped (`mono_fetches.duplicates_dropped`:
    an id seen again with the same content, on a later page or the same one). `fetch_logged` is the
    fetch log's own `transaction_count` (what the client kept), which must agree.
    """

    account_id: str
    fetched: int
    fetch_logged: int
    persisted: int  # rows of the account's windows seen by the run (not counted missing, not vanished)
    quarantined: int  # quarantine rows the run saw (with or without a Mono id)

    @property
    def unaccounted(self) -> int:
        return self.fetched - self.persisted - self.quarantined

    @property
    def balanced(self) -> bool:
        return self.unaccounted == 0 and self.fetched == self.fetch_logged

    def __str__(self) -> str:
        text = (
            f"{self.account_id}: fetched {self.fetched}, persisted {self.persisted} + quarantined "
            f"{self.quarantined} ({self.unaccounted} unaccounted)"
        )
        if self.fetched != self.fetch_logged:
            text += f"; the fetch log says {self.fetch_logged} fetched"
        return text


@dataclass(frozen=True)
class DuplicateKey:
    kind: str  # "natural_key" (account, Mono id) or "transaction_id"
    key: tuple[str, ...]
    count: int

    def __str__(self) -> str:
        return f"{self.kind} {'/'.join(self.key)} stored {self.count} times"


@dataclass(frozen=True)
class BalanceBreak:
    account_id: str
    provider_transaction_id: str
    previous_provider_transaction_id: str
    posted_at: datetime
    expected_balance_minor: int  # previous balance + this row's signed amount
    balance_after_minor: int  # what the row says

    def __str__(self) -> str:
        return (
            f"{self.provider_transaction_id} after {self.previous_provider_transaction_id}: balance "
            f"{self.balance_after_minor}, expected {self.expected_balance_minor} "
            f"(off by {self.balance_after_minor - self.expected_balance_minor})"
        )


def run_counts(conn: sa.Connection, run_id: str) -> list[AccountCounts]:
    """Per account of the run's successful fetches: fetched, persisted and quarantined counts.

    Persisted rows are counted from the persist's own bookkeeping of the run's complete windows: after
    it, a row there that the run did not see is counted missing (or was vanished already), so the rows
    with no miss are exactly those the run staged or quarantined. That holds until another run persists
    the same windows, so check right after the persist. A row the run quarantined that an earlier run
    had persisted counts once, as quarantined. The counts alone cannot name the row that is missing.
    """
    fetches = successful_fetches(conn, run_id)
    if not fetches:
        return []
    received = _page_transaction_counts(conn, fetches)
    dropped: dict[str, int] = defaultdict(int)
    logged: dict[str, int] = defaultdict(int)
    for fetch in fetches:
        dropped[fetch.account_id] += fetch.duplicates_dropped
        logged[fetch.account_id] += fetch.transaction_count
    quarantined = _quarantined_counts(conn, run_id, sorted(logged))
    persisted = _seen_persisted_counts(conn, run_id, [(f.account_id, f.window_start, f.window_end) for f in fetches])
    return [
        AccountCounts(
            account_id=account_id,
            fetched=received.get(account_id, 0) - dropped[account_id],
            fetch_logged=logged[account_id],
            persisted=persisted.get(account_id, 0),
            quarantined=quarantined.get(account_id, 0),
        )
        for account_id in sorted(logged)
    ]


def _page_transaction_counts(conn: sa.Connection, fetches: Sequence[FetchRow]) -> dict[str, int]:
    """Sum of `transaction_count` over the fetches' raw pages, per account (a purged page counts 0)."""
    pages = mono_raw_pages
    page_ids = sorted({page_id for fetch in fetches for page_id in fetch.raw_page_ids})
    totals: dict[str, int] = defaultdict(int)
    for chunk in chunked(page_ids):
        query = (
            sa.select(pages.c.account_id, sa.func.sum(pages.c.transaction_count))
            .where(pages.c.id.in_(chunk))
            .group_by(pages.c.account_id)
        )
        for account_id, total in conn.execute(query):
            totals[account_id] += int(total)
    return totals


def _quarantined_counts(conn: sa.Connection, run_id: str, account_ids: Sequence[str]) -> dict[str, int]:
    quarantine = quarantined_transactions
    counts: dict[str, int] = {}
    for chunk in chunked(account_ids):
        query = (
            sa.select(quarantine.c.account_id, sa.func.count())
            .where(quarantine.c.run_id == run_id, quarantine.c.account_id.in_(chunk))
            .group_by(quarantine.c.account_id)
        )
        counts.update((account_id, int(count)) for account_id, count in conn.execute(query))
    return counts


def _seen_persisted_counts(
    conn: sa.Connection, run_id: str, windows: Sequence[tuple[str, date, date]]
) -> dict[str, int]:
    """Rows of the windows the run saw and did not quarantine, per account (see `run_counts`)."""
    bank = bank_transactions
    quarantined_by_this_run = quarantined_in_run(run_id)
    counts: dict[str, int] = {}
    for spans, account_ids in accounts_by_spans(windows).items():
        in_spans = sa.or_(*(bank.c.posted_date.between(start, end) for start, end in spans))
        for chunk in chunked(sorted(account_ids)):
            query = (
                sa.select(bank.c.account_id, sa.func.count())
                .where(
                    bank.c.account_id.in_(chunk),
                    in_spans,
                    bank.c.provider == PROVIDER,
                    bank.c.missing_fetch_count == 0,
                    bank.c.vanished_at.is_(None),
                    ~quarantined_by_this_run,
                )
                .group_by(bank.c.account_id)
            )
            counts.update((account_id, int(count)) for account_id, count in conn.execute(query))
    return counts


def duplicate_keys(
    conn: sa.Connection,
    account_ids: Sequence[str],
    start: date,
    end: date,
    *,
    limit: int = DUPLICATE_SAMPLE_LIMIT,
) -> list[DuplicateKey]:
    """Keys stored more than once among these accounts' rows dated in [start, end]; should be empty.

    The primary key is `transaction_id`, the UUIDv5 of (provider, account, Mono id), so one (account,
    Mono id) can be stored twice only under two different ids: a change to how the id is derived, or
    a row loaded by hand. No constraint stops that, so the natural-key query is the one that matters;
    the `transaction_id` query notices a primary key lost by a migration or a manual load.
    """
    table = bank_transactions
    found: list[DuplicateKey] = []
    for chunk in chunked(sorted(set(account_ids))):
        scope = sa.and_(table.c.account_id.in_(chunk), table.c.posted_date.between(start, end))
        natural = (
            sa.select(table.c.account_id, table.c.provider_transaction_id, sa.func.count())
            .where(scope)
            .group_by(table.c.account_id, table.c.provider_transaction_id)
            .having(sa.func.count() > 1)
            .limit(limit)
        )
        found.extend(DuplicateKey("natural_key", (a, p), int(n)) for a, p, n in conn.execute(natural))
        by_id = (
            sa.select(table.c.transaction_id, sa.func.count())
            .where(scope)
            .group_by(table.c.transaction_id)
            .having(sa.func.count() > 1)
            .limit(limit)
        )
        found.extend(DuplicateKey("transaction_id", (t,), int(n)) for t, n in conn.execute(by_id))
    return found[:limit]


def accounts_without_recent_success(conn: sa.Connection, now: datetime, max_age: timedelta) -> list[str]:
    """Active accounts whose last successful sync is older than `max_age`, or that never had one."""
    cutoff = now - max_age
    query = (
        sa.select(mono_accounts.c.account_id)
        .where(
            mono_accounts.c.status == "active",
            sa.or_(mono_accounts.c.last_success_at.is_(None), mono_accounts.c.last_success_at < cutoff),
        )
        .order_by(mono_accounts.c.account_id)
    )
    return list(conn.execute(query).scalars())
