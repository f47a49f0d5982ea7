"""Read-only queries behind the asset checks: what a run fetched, duplicates, balance breaks, staleness.

They recount from the raw pages and the stored rows, never from the persist step's own counters, so
a bug in the upsert cannot vouch for itself. Payloads are parsed here with plain `json` (the storage
layer does not import the Mono client); the three Mono shapes are:

- v2:     {"data": [...] | null, "meta": {...}}
- v1:     {"data": {"paging": {...}, "transactions": [...]}}
- legacy: {"paging": {...}, "data": [{"_id": ...}, ...]}
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from mono_dagster.storage.fetch_log import successful_fetches
from mono_dagster.storage.raw_pages import load_raw_pages
from mono_dagster.storage.sql import chunked
from mono_dagster.storage.tables import bank_transactions, mono_accounts

DUPLICATE_SAMPLE_LIMIT = 100


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


def transactions_in_payload(payload: str) -> list[dict[str, Any]]:
    """The transaction objects of a stored page, whichever of Mono's three shapes it has."""
    document = json.loads(payload)
    if not isinstance(document, dict):
        raise ValueError(f"not a Mono transactions page: a JSON {type(document).__name__}")
    data = document.get("data")
    if isinstance(data, dict):  # v1
        data = data.get("transactions")
    if data is None:  # v2 with "data": null, or an empty v1 page
        return []
    if not isinstance(data, list):
        raise ValueError(f"not a Mono transactions page: data is a JSON {type(data).__name__}")
    return [item for item in data if isinstance(item, dict)]


def provider_transaction_id(transaction: dict[str, Any]) -> str | None:
    """Mono's id: `id` in v1/v2, `_id` in the legacy shape."""
    value = transaction.get("id") or transaction.get("_id")
    return None if value in (None, "") else str(value)


def fetched_keys(conn: sa.Connection, run_id: str) -> set[tuple[str, str]]:
    """Distinct (account_id, Mono id) in the pages of the run's successful fetches (id-less rows aside)."""
    account_of_page = {
        page_id: fetch.account_id for fetch in successful_fetches(conn, run_id) for page_id in fetch.raw_page_ids
    }
    keys: set[tuple[str, str]] = set()
    for page in load_raw_pages(conn, account_of_page):
        for transaction in transactions_in_payload(page.payload):
            key = provider_transaction_id(transaction)
            if key is not None:
                keys.add((account_of_page[page.id], key))
    return keys


def fetched_keys_count(conn: sa.Connection, run_id: str) -> int:
    return len(fetched_keys(conn, run_id))


def persisted_count_for_keys(conn: sa.Connection, keys: Iterable[tuple[str, str]]) -> int:
    """How many of these (account_id, Mono id) keys are in `bank_transactions`."""
    by_account: dict[str, set[str]] = defaultdict(set)
    for account_id, key in keys:
        by_account[account_id].add(key)
    table = bank_transactions
    found = 0
    for account_id, ids in by_account.items():
        for chunk in chunked(sorted(ids)):
            query = (
                sa.select(sa.func.count())
                .select_from(table)
                .where(table.c.account_id == account_id, table.c.provider_transaction_id.in_(chunk))
            )
            found += int(conn.execute(query).scalar_one())
    return found


def duplicate_keys(
    conn: sa.Connection,
    account_ids: Sequence[str],
    start: date,
    end: date,
    *,
    limit: int = DUPLICATE_SAMPLE_LIMIT,
) -> list[DuplicateKey]:
    """Keys stored more than once among these accounts' rows dated in [start, end]; should be empty.

    The primary key and the unique constraint make duplicates impossible; this check is what notices
    if a migration or a manual load ever drops them.
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


def balance_breaks(conn: sa.Connection, account_id: str, start: date, end: date) -> list[BalanceBreak]:
    """Rows whose balance is not the previous row's balance plus their signed amount.

    Rows are ordered by (posted_at, Mono id) within [start, end], vanished rows left out. A pair where
    either balance is null is not checked.
    """
    table = bank_transactions
    order = (table.c.posted_at, table.c.provider_transaction_id)
    ordered = (
        sa.select(
            table.c.provider_transaction_id,
            table.c.posted_at,
            table.c.signed_amount_minor,
            table.c.balance_after_minor,
            sa.func.lag(table.c.balance_after_minor).over(order_by=order).label("previous_balance"),
            sa.func.lag(table.c.provider_transaction_id).over(order_by=order).label("previous_id"),
        )
        .where(
            table.c.account_id == account_id,
            table.c.posted_date.between(start, end),
            table.c.vanished_at.is_(None),
        )
        .subquery()
    )
    expected = ordered.c.previous_balance + ordered.c.signed_amount_minor
    query = (
        sa.select(ordered, expected.label("expected"))
        .where(
            ordered.c.previous_balance.is_not(None),
            ordered.c.balance_after_minor.is_not(None),
            expected != ordered.c.balance_after_minor,
        )
        .order_by(ordered.c.posted_at, ordered.c.provider_transaction_id)
    )
    return [
        BalanceBreak(
            account_id=account_id,
            provider_transaction_id=row.provider_transaction_id,
            previous_provider_transaction_id=row.previous_id,
            posted_at=row.posted_at,
            expected_balance_minor=int(row.expected),
            balance_after_minor=int(row.balance_after_minor),
        )
        for row in conn.execute(query)
    ]


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
