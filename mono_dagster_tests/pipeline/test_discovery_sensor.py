"""The account discovery sensor against the sandbox: registration, initial backfill, unlinking, filters."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from mono_dagster.defs.partition_range import RANGE_END_TAG
from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.defs.sensors import mono_account_discovery
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import AccountRecord, register_accounts
from mono_dagster.storage.tables import mono_accounts


def tick(pipeline):
    resources = {
        "mono": MonoResource(secret_key=pipeline.sandbox.state.secret_key, base_url=pipeline.sandbox.base_url),
        "database": DatabaseResource(url=pipeline.database_url),
    }
    with dg.build_sensor_context(instance=pipeline.instance, resources=resources) as context:
        return mono_account_discovery(context)


def statuses(pipeline) -> dict[str, str]:
    with pipeline.engine.connect() as conn:
        return dict(conn.execute(sa.select(mono_accounts.c.account_id, mono_accounts.c.status)).all())


def test_new_accounts_are_registered_and_get_one_initial_backfill_run_each(pipeline, last_days):
    result = tick(pipeline)
    accounts = pipeline.sandbox.state.account_ids()
    assert set(statuses(pipeline)) == set(accounts)
    assert len(result.run_requests) == 3
    request = next(r for r in result.run_requests if r.run_key == f"initial-backfill:{accounts[0]}")
    assert request.run_config["ops"]["mono_raw_transactions"]["config"]["accounts"] == [accounts[0]]
    _, yesterday = last_days(1)
    assert request.tags[RANGE_END_TAG].startswith(yesterday.isoformat())
    outcome = pipeline.job.execute_in_process(
        instance=pipeline.instance, tags=request.tags, run_config=request.run_config
    )
    assert outcome.success
    assert {row["account_id"] for row in pipeline.persisted()} == {accounts[0]}
    again = tick(pipeline)
    assert isinstance(again, dg.SkipReason) and "none new" in again.skip_message


def test_an_account_mono_no_longer_lists_is_unlinked_and_keeps_its_history(pipeline, last_days):
    start, end = last_days(2)
    gone = "0ldacc0un7000000000f00d5"
    with pipeline.engine.begin() as conn:
        register_accounts(conn, [AccountRecord(account_id=gone)], Settings.from_env().shard_count)
    tick(pipeline)
    assert statuses(pipeline)[gone] == "unlinked"
    pipeline.sandbox.state.reset_request_log()
    pipeline.run(start, end)
    assert not any(gone in record.path for record in pipeline.sandbox.state.request_log), "unlinked: not synced"


def test_allow_and_deny_lists_filter_discovery(pipeline, monkeypatch):
    accounts = pipeline.sandbox.state.account_ids()
    monkeypatch.setenv("MONO_ACCOUNT_ALLOWLIST", ",".join(accounts[:2]))
    monkeypatch.setenv("MONO_ACCOUNT_DENYLIST", accounts[1])
    result = tick(pipeline)
    assert set(statuses(pipeline)) == {accounts[0]}
    assert [r.run_key for r in result.run_requests] == [f"initial-backfill:{accounts[0]}"]


def test_the_kill_switch_stops_discovery(pipeline, monkeypatch):
    monkeypatch.setenv("MONO_INGESTION_ENABLED", "false")
    result = tick(pipeline)
    assert isinstance(result, dg.SkipReason) and "MONO_INGESTION_ENABLED=false" in result.skip_message
    assert statuses(pipeline) == {}
