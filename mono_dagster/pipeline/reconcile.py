"""Reconciliation of one run: every transaction Mono returned is persisted or quarantined.

By counts, per account: what the sync recorded receiving (page counts less the repeats it dropped)
against what the database now holds for the run's windows. Nothing is parsed again, and nothing
comes from the persist step's own counters, so a bug in the upsert cannot hide itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from mono_dagster.storage.reconciliation import AccountCounts, run_counts


@dataclass(frozen=True)
class Reconciliation:
    accounts: tuple[AccountCounts, ...]

    @property
    def fetched(self) -> int:
        return sum(account.fetched for account in self.accounts)

    @property
    def persisted(self) -> int:
        return sum(account.persisted for account in self.accounts)

    @property
    def quarantined(self) -> int:
        return sum(account.quarantined for account in self.accounts)

    @property
    def unbalanced(self) -> tuple[AccountCounts, ...]:
        return tuple(account for account in self.accounts if not account.balanced)

    @property
    def balanced(self) -> bool:
        return not self.unbalanced


def reconcile_run(engine: Engine, run_id: str) -> Reconciliation:
    with engine.connect() as conn:
        return Reconciliation(tuple(run_counts(conn, run_id)))
