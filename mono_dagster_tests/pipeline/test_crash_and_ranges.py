"""A crash between staging and commit, real multi-partition range runs, freshness and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from mono_dagster.defs import names
from mono_dagster.defs.freshness import accounts_synced_within_26_hours
from mono_dagster.defs.launch import partition_range_tags
from mono_dagster.defs.partitions import SHARD_COUNT
from mono_dagster.defs.resources import DatabaseResource
from mono_dagster.defs.retention import raw_retention_job
from mono_dagster.mono import DateWindow
from mono_dagster.pipeline.persist import persist_run
from mono_dagster.pipeline.sync import RunIdentity, sync_accounts
from mono_dagster.storage.accounts import list_accounts
from mono_dagster.storage.tables import (
    bank_transactions,
    canonical_transactions,
    metadata,
    mono_accounts,
    mono_raw_pages,
    pipeline_events,
)


def everything(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            table.name: sorted((tuple(map(str, row)) for row in conn.execute(sa.select(table))), key=str)
            for table in metadata.sorted_tables
        }


class InjectedCrash(RuntimeError):
    pass


def test_a_crash_between_staging_and_commit_leaves_the_database_as_before(pipeline, last_days):
    start, end = last_days(5)
    pipeline.register()
    pipeline.run(start, end)  # history that must survive untouched
    account = pipeline.sandbox.state.account_ids()[0]
    served = pipeline.sandbox.state.transactions(account, start, end)
    pipeline.sandbox.state.update_transaction(account, served[0]["id"], narration="CHANGED AFTER THE FIRST RUN")
    engine = pipeline.engine
    identity = RunIdentity(run_id="crash-run", correlation_id="00000000-0000-4000-8000-000000000001")
    with engine.connect() as conn:
        accounts = list_accounts(conn)
    window = DateWindow(start, end)
    now = datetime.now(UTC)
    with pipeline.client() as client:
        summary = sync_accounts(client, engine, accounts, window, identity, now=now)
    assert summary.canonical.staged == 5 * 5 * len(accounts)
    before = everything(engine)
    assert any(row for row in before[canonical_transactions.name]), "the stage holds the run's rows"

    def crash() -> None:
        raise InjectedCrash("the process dies before COMMIT")

    with pytest.raises(InjectedCrash):
        persist_run(engine, identity, now=now, before_commit=crash)
    assert everything(engine) == before
    outcome = persist_run(engine, identity, now=now)
    assert outcome.stats.updated == 1
    with engine.connect() as conn:
        narration = conn.execute(
            sa.select(bank_transactions.c.narration).where(
                bank_transactions.c.provider_transaction_id == served[0]["id"]
            )
        ).scalar_one()
    assert narration == "CHANGED AFTER THE FIRST RUN"


def test_a_real_range_run_over_days_and_shards_materialises_every_partition(pipeline, last_days):
    start, end = last_days(4)
    pipeline.register()
    tags = partition_range_tags(start, end, 0, SHARD_COUNT - 1)
    result = pipeline.job.execute_in_process(instance=pipeline.instance, tags=tags)
    assert result.success
    materialized = pipeline.instance.get_materialized_partitions(dg.AssetKey(names.PERSISTED_ASSET))
    assert len(materialized) == 4 * SHARD_COUNT
    raw = next(
        event.event_specific_data.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.event_specific_data.materialization.asset_key == dg.AssetKey(names.RAW_ASSET)
    )
    assert raw["window"].value == f"{start.isoformat()}..{end.isoformat()}"
    assert raw["shards"].value == list(range(SHARD_COUNT))
    assert raw["accounts"].value == 3
    assert {(row["account_id"], row["provider_transaction_id"]) for row in pipeline.persisted()} == pipeline.served(
        start, end
    )
    with pipeline.engine.connect() as conn:
        correlation = conn.execute(sa.select(pipeline_events.c.correlation_id).distinct()).scalars().all()
    run = pipeline.instance.get_run_by_id(result.run_id)
    assert correlation == [run.tags["mono/correlation_id"]], "the correlation id is in the events and the run tags"


def test_freshness_check_flags_accounts_without_a_success_in_26_hours(pipeline, last_days):
    start, end = last_days(2)
    pipeline.register()
    database = DatabaseResource(url=pipeline.database_url)
    stale = accounts_synced_within_26_hours(database=database)
    assert not stale.passed and stale.metadata["stale_accounts"].value == 3
    pipeline.run(start, end)
    fresh = accounts_synced_within_26_hours(database=database)
    assert fresh.passed
    with pipeline.engine.begin() as conn:
        conn.execute(
            sa.update(mono_accounts)
            .where(mono_accounts.c.account_id == pipeline.sandbox.state.account_ids()[0])
            .values(last_success_at=datetime.now(UTC) - timedelta(hours=27))
        )
    assert accounts_synced_within_26_hours(database=database).metadata["stale_accounts"].value == 1


def test_the_retention_job_purges_raw_pages_older_than_the_setting(pipeline, last_days):
    start, end = last_days(2)
    pipeline.register()
    pipeline.run(start, end)
    with pipeline.engine.begin() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(mono_raw_pages)).scalar_one()
        oldest = conn.execute(sa.select(sa.func.min(mono_raw_pages.c.id))).scalar_one()
        conn.execute(
            sa.update(mono_raw_pages)
            .where(mono_raw_pages.c.id == oldest)
            .values(fetched_at=datetime.now(UTC) - timedelta(days=31))
        )
    result = raw_retention_job.execute_in_process(
        resources={"database": DatabaseResource(url=pipeline.database_url)}, instance=pipeline.instance
    )
    assert result.success and result.output_for_node("purge_expired_raw_pages") == 1
    with pipeline.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(mono_raw_pages)).scalar_one() == total - 1
