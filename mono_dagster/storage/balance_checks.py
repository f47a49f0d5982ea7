"""Balance continuity for many accounts in one query per chunk of accounts (not one per account).

A run or a backfill covers up to thousands of accounts; the check's cost must not grow by a round trip
per account. The rule: rows ordered by (posted_at, Mono id) within [start, end], vanished rows left out;
a row breaks when its balance is not the previous row's balance plus its signed amount; pairs with a
null balance are not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa

from mono_dagster.storage.reconciliation import BalanceBreak
from mono_dagster.storage.sql import chunked
from mono_dagster.storage.tables import bank_transactions


def balance_breaks_by_account(
    conn: sa.Connection, account_ids: Sequence[str], start: date, end: date
) -> dict[str, list[BalanceBreak]]:
    """The breaks of each account that has any, in (posted_at, Mono id) order."""
    table = bank_transactions
    order = (table.c.posted_at, table.c.provider_transaction_id)
    found: dict[str, list[BalanceBreak]] = {}
    for chunk in chunked(sorted(set(account_ids))):
        ordered = (
            sa.select(
                table.c.account_id,
                table.c.provider_transaction_id,
                table.c.posted_at,
                table.c.signed_amount_minor,
                table.c.balance_after_minor,
                sa.func.lag(table.c.balance_after_minor)
                .over(partition_by=table.c.account_id, order_by=order)
                .label("previous_balance"),
                sa.func.lag(table.c.provider_transaction_id)
                .over(partition_by=table.c.account_id, order_by=order)
                .label("previous_id"),
            )
            .where(
                table.c.account_id.in_(chunk),
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
            .order_by(ordered.c.account_id, ordered.c.posted_at, ordered.c.provider_transaction_id)
        )
        for row in conn.execute(query):
            found.setdefault(row.account_id, []).append(
                BalanceBreak(
                    account_id=row.account_id,
                    provider_transaction_id=row.provider_transaction_id,
                    previous_provider_transaction_id=row.previous_id,
                    posted_at=row.posted_at,
                    expected_balance_minor=int(row.expected),
                    balance_after_minor=int(row.balance_after_minor),
                )
            )
    return found


def balance_breaks(conn: sa.Connection, account_id: str, start: date, end: date) -> list[BalanceBreak]:
    """One account's breaks, in (posted_at, Mono id) order."""
    return balance_breaks_by_account(conn, [account_id], start, end).get(account_id, [])
