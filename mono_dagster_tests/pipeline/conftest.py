"""Fixtures for end-to-end pipeline tests: the sandbox, a database (SQLite and Postgres), a Dagster
instance, and the code location bound to both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from mono_dagster.definitions import build_definitions
from mono_dagster.defs.launch import ShardRun, run_shards
from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.mono import MonoClient, SecretBackedMonoTokenProvider, TokenBucket
from mono_dagster.pipeline.accounts import accounts_by_shard, add_accounts
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import list_accounts
from mono_dagster.storage.engine import create_db_engine, dispose_engines
from mono_dagster.storage.migrate import upgrade_database
from mono_dagster.storage.tables import bank_transactions


@dataclass
class Pipeline:
    sandbox: Any
    database_url: str
    instance: dg.DagsterInstance
    job: dg.JobDefinition

    @property
    def engine(self) -> sa.Engine:
        return create_db_engine(self.database_url)

    def use_page_size(self, page_size: int) -> None:
        self.job = _sync_job(self.sandbox, self.database_url, page_size)

    def client(self) -> MonoClient:
        return MonoClient(
            token_provider=SecretBackedMonoTokenProvider(loader=lambda: self.sandbox.state.secret_key, env_var=None),
            base_url=self.sandbox.base_url,
            rate_limiter=TokenBucket(1000, 1000),
        )

    def register(self, account_ids: list[str] | None = None) -> list[str]:
        ids = account_ids or self.sandbox.state.account_ids()
        with self.client() as client:
            add_accounts(client, self.engine, ids, shard_count=Settings.from_env().shard_count)
        return ids

    def shards(self, account_ids: list[str]) -> list[int]:
        with self.engine.connect() as conn:
            return sorted({row.shard for row in list_accounts(conn, statuses=None, account_ids=account_ids)})

    def run(
        self, start: date, end: date, account_ids: list[str] | None = None, *, only: bool = False
    ) -> list[ShardRun]:
        ids = account_ids or self.sandbox.state.account_ids()
        with self.engine.connect() as conn:
            by_shard = accounts_by_shard(list_accounts(conn, statuses=None, account_ids=ids))
        return run_shards(
            start,
            end,
            sorted(by_shard),
            accounts_by_shard=by_shard if only else None,
            instance=self.instance,
            job=self.job,
        )

    def persisted(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(bank_transactions).order_by(bank_transactions.c.transaction_id))
            return [dict(row._mapping) for row in rows]

    def served(self, start: date, end: date, account_ids: list[str] | None = None) -> set[tuple[str, str]]:
        ids = account_ids or self.sandbox.state.account_ids()
        return {(a, t["id"]) for a in ids for t in self.sandbox.state.transactions(a, start, end)}


def sandbox_mono_resource(
    sandbox: Any, *, max_attempts: int = 10, retry_max_delay_seconds: float = 0.01, page_size: int = 1000
) -> MonoResource:
    """Mono at the sandbox, unthrottled, with near-zero retry delays (tests wait on nothing)."""
    return MonoResource(
        secret_key=sandbox.state.secret_key,
        base_url=sandbox.base_url,
        rate_limit_per_second=1000,
        rate_limit_burst=1000,
        max_attempts=max_attempts,
        retry_base_delay_seconds=0.001,
        retry_max_delay_seconds=retry_max_delay_seconds,
        page_size=page_size,
    )


def _sync_job(sandbox: Any, database_url: str, page_size: int = 1000) -> dg.JobDefinition:
    mono = sandbox_mono_resource(sandbox, page_size=page_size)
    return build_definitions(mono, DatabaseResource(url=database_url)).resolve_job_def("mono_sync_job")


@pytest.fixture()
def pipeline(sandbox, database_url) -> Iterator[Pipeline]:
    upgrade_database(database_url)
    with dg.instance_for_test() as instance:
        yield Pipeline(sandbox, database_url, instance, _sync_job(sandbox, database_url))
    dispose_engines()


@pytest.fixture()
def last_days() -> Callable[[int], tuple[date, date]]:
    def window(days: int) -> tuple[date, date]:
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        return yesterday - timedelta(days=days - 1), yesterday

    return window
