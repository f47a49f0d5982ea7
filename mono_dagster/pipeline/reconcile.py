"""Reconciliation of one run: every transaction Mono returned is persisted or quarantined.

Independent of the persist step's own counters: it re-reads the run's raw pages and asks the
database what it now holds, so a bug in the upsert cannot hide itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import Engine

from mono_dagster.mono.responses import transaction_id
from mono_dagster.storage.fetch_log import successful_fetches
from mono_dagster.storage.raw_pages import RawPageRow, load_raw_pages
from mono_dagster.storage.tables import bank_transactions, quarantined_transactions
from mono_dagster.transform.pages import page_transactions

_EXPLICIT_LOOKUP_LIMIT = 5_000


@dataclass(frozen=True)
class Reconciliation:
    fetched: int  # distinct (account, Mono id) in the run's raw pages, plus id-less rows
    persisted: int
    quarantined: int
    unaccounted: tuple[tuple[str, str], ...]  # (account, Mono id) in neither table: must be empty

    @property
    def balanced(self) -> bool:
        return not self.unaccounted and self.fetched == self.persisted + self.quarantined


def reconcile_run(engine: Engine, run_id: str) -> Reconciliation:
    with engine.connect() as conn:
        fetches = successful_fetches(conn, run_id)
        account_of_page = {page_id: fetch.account_id for fetch in fetches for page_id in fetch.raw_page_ids}
        pages = load_raw_pages(conn, list(account_of_page))
        fetched, idless = _fetched_keys(pages, account_of_page)
        del pages
        if not fetches:
            return Reconciliation(0, 0, 0, ())
        accounts = sorted({fetch.account_id for fetch in fetches})
        start = min(fetch.window_start for fetch in fetches) - timedelta(days=1)
        end = max(fetch.window_end for fetch in fetches) + timedelta(days=1)
        persisted = (
            _keys(
                conn,
                sa.select(bank_transactions.c.account_id, bank_transactions.c.provider_transaction_id)
                .where(bank_transactions.c.account_id.in_(accounts))
                .where(bank_transactions.c.posted_date.between(start, end)),
            )
            & fetched
        )
        quarantine_query = sa.select(
            quarantined_transactions.c.account_id, quarantined_transactions.c.provider_transaction_id
        ).where(quarantined_transactions.c.account_id.in_(accounts))
        quarantined = _keys(
            conn, quarantine_query.where(quarantined_transactions.c.provider_transaction_id.is_not(None))
        )
        quarantined_idless = conn.execute(
            sa.select(sa.func.count())
            .select_from(quarantined_transactions)
            .where(quarantined_transactions.c.run_id == run_id)
            .where(quarantined_transactions.c.provider_transaction_id.is_(None))
        ).scalar_one()
        quarantined &= fetched - persisted
        rest = fetched - persisted - quarantined
        if rest and len(rest) <= _EXPLICIT_LOOKUP_LIMIT:
            # Rows dated outside the window (Mono's bounds are undocumented): look them up one account at a time.
            for account_id in {account for account, _ in rest}:
                ids = [key for account, key in rest if account == account_id]
                found = _keys(
                    conn,
                    sa.select(bank_transactions.c.account_id, bank_transactions.c.provider_transaction_id)
                    .where(bank_transactions.c.account_id == account_id)
                    .where(bank_transactions.c.provider_transaction_id.in_(ids)),
                )
                persisted |= found
            rest = fetched - persisted - quarantined
    return Reconciliation(
        fetched=len(fetched) + idless,
        persisted=len(persisted),
        quarantined=len(quarantined) + min(idless, int(quarantined_idless)),
        unaccounted=tuple(sorted(rest))[:20],
    )


def _fetched_keys(pages: Sequence[RawPageRow], account_of_page: dict[int, str]) -> tuple[set[tuple[str, str]], int]:
    """(account, Mono id) of every transaction in the pages, and how many had no id."""
    fetched: set[tuple[str, str]] = set()
    idless = 0
    for page in pages:
        keys = list(map(transaction_id, page_transactions(page.payload)))
        idless += keys.count(None)
        fetched.update((account_of_page[page.id], key) for key in keys if key is not None)
    return fetched, idless


def _keys(conn: sa.Connection, query: sa.Select) -> set[tuple[str, str]]:
    return {(str(account), str(key)) for account, key in conn.execute(query)}
