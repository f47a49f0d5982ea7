"""Run resilience: the raw asset's RetryPolicy retries transient Mono outages (and only those), its pool,
and the daily schedule's clock. Runs go through the real sync job against the sandbox, on SQLite and Postgres."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from mono_dagster.definitions import build_definitions
from mono_dagster.defs import names
from mono_dagster.defs.jobs import SYNC_JOB
from mono_dagster.defs.launch import partition_range_tags
from mono_dagster.defs.raw_asset import (
    RETRY_POLICY,
    count_deferred_failures,
    mono_raw_transactions,
    retry_delay,
    transient_failures,
)
from mono_dagster.defs.resources import DatabaseResource
from mono_dagster.defs.schedules import mono_daily_sync
from mono_dagster.mono import DateWindow
from mono_dagster.mono.errors import MonoAuthenticationError, MonoNotFoundError, MonoUnavailableError
from mono_dagster.pipeline.accounts import add_accounts
from mono_dagster.pipeline.sync import AccountSyncOutcome, RunIdentity, sync_accounts
from mono_dagster.sandbox import FaultPlan
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import AccountRecord, list_accounts, register_accounts
from mono_dagster.storage.tables import mono_accounts, pipeline_events
from mono_dagster_tests.pipeline.conftest import sandbox_mono_resource

FAST_RETRY = {"ops": {names.RAW_ASSET: {"config": {"retry_delay_seconds": 0.01}}}}
BROKEN = "0badacc0un7000000000dead"  # unknown to the sandbox: every fetch answers 404


def sync_job(pipeline) -> dg.JobDefinition:
    """The sync job with a client that gives up after 2 tries per request, so a 5xx outage reaches the step."""
    mono = sandbox_mono_resource(pipeline.sandbox, max_attempts=2)
    return build_definitions(mono, DatabaseResource(url=pipeline.database_url)).resolve_job_def(SYNC_JOB)


def on_shard_zero(pipeline, accounts: list[str]) -> None:
    with pipeline.client() as client:
        add_accounts(client, pipeline.engine, accounts, shard_count=1)


def run_shard_zero(pipeline, start, end) -> dg.ExecuteInProcessResult:
    tags = partition_range_tags(start, end, 0)
    return sync_job(pipeline).execute_in_process(
        instance=pipeline.instance, tags=tags, run_config=FAST_RETRY, raise_on_error=False
    )


def step_events(result: dg.ExecuteInProcessResult, event_type: dg.DagsterEventType) -> list[dg.DagsterEvent]:
    return [e for e in result.all_events if e.event_type == event_type and e.step_key == names.RAW_ASSET]


def transaction_requests(pipeline, account: str) -> int:
    return pipeline.sandbox.state.request_count(f"/v2/accounts/{account}/transactions")


def asset_metadata(result: dg.ExecuteInProcessResult, asset: str = names.RAW_ASSET) -> dict:
    """An asset's metadata (a range run records the same on each partition it materialized); the sync step
    materializes the raw and the canonical asset."""
    node = names.SYNC_STEP if asset in (names.RAW_ASSET, names.CANONICAL_ASSET) else asset
    materializations = [m for m in result.asset_materializations_for_node(node) if m.asset_key == dg.AssetKey(asset)]
    assert materializations, f"the sync step materialized {asset}"
    return {key: value.value for key, value in materializations[0].metadata.items()}


raw_metadata = asset_metadata


def test_a_transient_outage_of_one_account_retries_only_that_account_and_lands_its_data(pipeline, last_days):
    start, end = last_days(3)
    accounts = sorted(pipeline.sandbox.state.account_ids())
    on_shard_zero(pipeline, accounts)
    first = accounts[0]  # accounts sync in id order: the first two requests are the first account's two tries
    pipeline.sandbox.state.set_fault_plan(FaultPlan(script=["503", "503"]))
    pipeline.sandbox.state.reset_request_log()

    result = run_shard_zero(pipeline, start, end)

    assert result.success
    [retry] = step_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert "MonoUnavailableError" in str(retry.event_specific_data.error.cause or retry.event_specific_data.error)
    assert raw_metadata(result)["attempt"] == 2
    assert raw_metadata(result)["accounts_synced_by_earlier_attempts"] == len(accounts) - 1
    assert transaction_requests(pipeline, first) == 3, "two failed tries, then the retried step's fetch"
    assert [transaction_requests(pipeline, account) for account in accounts[1:]] == [1] * (len(accounts) - 1), (
        "the accounts the first attempt synced are not fetched again"
    )
    persisted = {(row["account_id"], row["provider_transaction_id"]) for row in pipeline.persisted()}
    assert persisted == pipeline.served(start, end, accounts), "the retried account's data landed too"
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations[names.ACCOUNTS_SYNCED_CHECK] is True
    assert evaluations[names.RECONCILIATION_CHECK] is True and evaluations[names.DUPLICATES_CHECK] is True
    # The retried attempt staged only the retried account; the others' rows, staged by the first, stayed.
    served_first = len(pipeline.sandbox.state.transactions(first, start, end))
    assert asset_metadata(result, names.CANONICAL_ASSET)["staged"] == served_first
    persisted_metadata = asset_metadata(result, names.PERSISTED_ASSET)
    assert persisted_metadata["inserted"] == len(pipeline.served(start, end, accounts)), "each row exactly once"
    with pipeline.engine.connect() as conn:
        streak = conn.execute(
            sa.select(mono_accounts.c.failure_streak).where(mono_accounts.c.account_id == first)
        ).scalar_one()
    assert streak == 0, "the retry's success resets the account's streak"


def test_an_outage_that_outlasts_the_retries_ends_the_partition_failed_by_the_check(pipeline, last_days):
    start, end = last_days(1)
    [account] = sorted(pipeline.sandbox.state.account_ids())[:1]
    on_shard_zero(pipeline, [account])
    pipeline.sandbox.state.set_fault_plan(FaultPlan(rate=1.0, kinds=("503",)))

    result = run_shard_zero(pipeline, start, end)

    assert not result.success
    assert len(step_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)) == RETRY_POLICY.max_retries
    assert raw_metadata(result)["attempt"] == RETRY_POLICY.max_retries + 1
    assert raw_metadata(result)["failed_accounts"] == [account]
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations[names.ACCOUNTS_SYNCED_CHECK] is False, "the blocking check still fails the partition"
    with pipeline.engine.connect() as conn:
        streak = conn.execute(
            sa.select(mono_accounts.c.failure_streak).where(mono_accounts.c.account_id == account)
        ).scalar_one()
    assert streak == 1, "three attempts of one run are one failed sync, not three"


def test_a_404_account_is_not_retried(pipeline, last_days):
    start, end = last_days(2)
    healthy = sorted(pipeline.sandbox.state.account_ids())[:1]
    on_shard_zero(pipeline, healthy)
    with pipeline.engine.begin() as conn:
        register_accounts(conn, [AccountRecord(account_id=BROKEN)], 1)
    pipeline.sandbox.state.reset_request_log()

    result = run_shard_zero(pipeline, start, end)

    assert not result.success
    assert step_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    assert raw_metadata(result)["attempt"] == 1 and raw_metadata(result)["failed_accounts"] == [BROKEN]
    assert transaction_requests(pipeline, BROKEN) == 1
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations[names.ACCOUNTS_SYNCED_CHECK] is False
    persisted = {(row["account_id"], row["provider_transaction_id"]) for row in pipeline.persisted()}
    assert persisted == pipeline.served(start, end, healthy)


def _failed(account_id: str) -> AccountSyncOutcome:
    return AccountSyncOutcome(account_id=account_id, ok=False, error="failed")


def test_only_failures_that_are_all_transient_ask_for_a_retry():
    unavailable = MonoUnavailableError("Mono kept failing (HTTP 503)", status_code=503)
    not_found = MonoNotFoundError("Mono refused the request (HTTP 404)", status_code=404)
    unauthorised = MonoAuthenticationError("Mono rejected the secret key", status_code=401)
    assert transient_failures([], {}) is None, "nothing failed: nothing to retry"
    assert transient_failures([_failed("a")], {"a": unavailable}) == [("a", unavailable)]
    assert transient_failures([_failed("a"), _failed("b")], {"a": unavailable, "b": not_found}) is None
    assert transient_failures([_failed("a")], {"a": unauthorised}) is None
    assert transient_failures([_failed("a")], {}) is None, "an unknown error class is not assumed transient"


def test_the_retry_delay_follows_the_policys_exponential_backoff_with_full_jitter():
    for attempt in (1, 2):
        delays = [retry_delay(RETRY_POLICY, attempt) for _ in range(200)]
        ceiling = (2**attempt - 1) * RETRY_POLICY.delay
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 2, "jitter spreads the waits over the whole range"
    assert retry_delay(RETRY_POLICY, 2, 0.01) <= 0.03, "a configured base delay replaces the policy's"


def test_the_raw_asset_talks_to_mono_through_its_pool_with_a_backoff_retry_policy():
    assert mono_raw_transactions.op.pool == names.MONO_POOL == "mono_api"
    policy = mono_raw_transactions.op.retry_policy
    assert policy is not None and policy.max_retries >= 1 and policy.delay and policy.delay > 0
    assert policy.backoff is dg.Backoff.EXPONENTIAL
    assert policy.jitter is not None, "retries of many shards must not hit Mono in lockstep"


def test_the_daily_sync_runs_on_lagos_time_at_the_configured_cron():
    assert mono_daily_sync.execution_timezone == "Africa/Lagos"
    assert mono_daily_sync.cron_schedule == Settings.from_env().daily_sync_cron
    probe = (
        "from mono_dagster.definitions import defs; "
        "s = defs.resolve_schedule_def('mono_daily_sync'); print(s.cron_schedule, '|', s.execution_timezone)"
    )
    env = {**os.environ, "MONO_DAILY_SYNC_CRON": "45 4 * * *"}
    root = Path(__file__).parents[2]
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip().splitlines()[-1] == "45 4 * * * | Africa/Lagos"


def test_a_failure_the_step_may_retry_stays_out_of_the_streak_until_it_is_final(pipeline, last_days):
    """The escalation sensor reads the registry every 2 minutes: a retry-able outage must not grow the streak
    mid-run. If the step ends up not retrying (another account failed for good), it counts the failure once."""
    start, end = last_days(1)
    [account] = sorted(pipeline.sandbox.state.account_ids())[:1]
    on_shard_zero(pipeline, [account])
    pipeline.sandbox.state.set_fault_plan(FaultPlan(rate=1.0, kinds=("503",)))
    with pipeline.engine.connect() as conn:
        rows = list_accounts(conn)
    identity = RunIdentity(run_id="run-deferred", correlation_id="c-deferred")
    client = sandbox_mono_resource(pipeline.sandbox, max_attempts=1).build_client()
    with client:
        summary = sync_accounts(
            client, pipeline.engine, rows, DateWindow(start, end), identity, count_failure=lambda _exc: False
        )
    [outcome] = summary.failed
    assert not outcome.counted and streak_of(pipeline, account) == 0, "left out while a retry may come"
    with pipeline.engine.connect() as conn:
        payload = conn.execute(
            sa.select(pipeline_events.c.payload).where(pipeline_events.c.event_name == "mono.fetch.failed")
        ).scalar_one()
    assert json.loads(payload)["counted_in_streak"] is False

    count_deferred_failures(DatabaseResource(url=pipeline.database_url), summary.failed)
    assert streak_of(pipeline, account) == 1, "counted once when it became final"


def streak_of(pipeline, account: str) -> int:
    with pipeline.engine.connect() as conn:
        return conn.execute(
            sa.select(mono_accounts.c.failure_streak).where(mono_accounts.c.account_id == account)
        ).scalar_one()
