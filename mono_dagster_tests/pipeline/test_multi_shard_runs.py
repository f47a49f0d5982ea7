"""Accounts filters over several shards through real Dagster runs (issue 12): `run_shards` gives each shard
only its accounts, a ranged run over a box of shards (the UI launchpad) takes accounts of any shard in
its box and refuses others with a clear error, and the discovery and webhook sensors request runs
whose filter belongs to their shard."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from mono_dagster.defs.launch import partition_range_tags, run_shards, sync_config
from mono_dagster.defs.partition_range import RANGE_END_TAG, RANGE_START_TAG
from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.defs.sensors import mono_account_discovery
from mono_dagster.defs.webhook_inbox_sensor import mono_webhook_inbox_sensor
from mono_dagster.notify import NotifierResource
from mono_dagster.pipeline.accounts import accounts_by_shard
from mono_dagster.storage.accounts import list_accounts
from mono_dagster_tests.multi_shard import (
    ground_truth,
    one_account_per_shard,
    persisted,
    run_accounts,
    run_shard,
    sandbox,  # noqa: F401 (six accounts, several per shard)
    shard_filters,
    transactions_requested,
)
from mono_dagster_tests.webhooks.test_inbox_sensor import receive


def registered_shards(pipeline) -> dict[str, int]:
    with pipeline.engine.connect() as conn:
        return {row.account_id: row.shard for row in list_accounts(conn, statuses=None)}


def recorded(pipeline) -> list[dg.DagsterRun]:
    return [record.dagster_run for record in pipeline.instance.get_run_records()]


def box_run(pipeline, start, end, first_shard: int, last_shard: int, accounts: list[str]) -> dg.ExecuteInProcessResult:
    """A run as the launchpad launches it: range tags over a box of days x shards, an accounts filter."""
    return pipeline.job.execute_in_process(
        instance=pipeline.instance,
        tags=partition_range_tags(start, end, first_shard, last_shard),
        run_config=sync_config(accounts),
        raise_on_error=False,
    )


def test_run_shards_gives_each_shard_only_its_accounts_and_no_run_to_a_shard_without_any(pipeline, last_days):
    start, end = last_days(4)
    pipeline.register()
    chosen = one_account_per_shard(pipeline.sandbox.state, 3)
    with pipeline.engine.connect() as conn:
        by_shard = accounts_by_shard(list_accounts(conn, account_ids=list(chosen.values())))
    assert by_shard == {shard: (account,) for shard, account in chosen.items()}
    every_shard = list(range(8))
    runs = run_shards(start, end, every_shard, accounts_by_shard=by_shard, instance=pipeline.instance, job=pipeline.job)
    assert all(run.success for run in runs), [run.error for run in runs]
    assert sorted(run.shard for run in runs) == sorted(chosen)
    assert shard_filters(recorded(pipeline)) == {shard: [account] for shard, account in chosen.items()}
    assert persisted(pipeline.database_url) == ground_truth(pipeline.sandbox.state, chosen.values(), start, end)
    assert transactions_requested(pipeline.sandbox.state) == set(chosen.values())


def test_accounts_for_a_shard_outside_the_ones_to_run_launch_nothing(pipeline, last_days):
    start, end = last_days(2)
    pipeline.register()
    chosen = one_account_per_shard(pipeline.sandbox.state, 3)
    [first, *others] = sorted(chosen)
    pipeline.sandbox.state.reset_request_log()
    with pytest.raises(ValueError, match=r"accounts given for shards \[\d+, \d+\]"):
        run_shards(
            start,
            end,
            [first],
            accounts_by_shard={shard: [chosen[shard]] for shard in chosen},
            instance=pipeline.instance,
            job=pipeline.job,
        )
    assert others and recorded(pipeline) == [] and pipeline.sandbox.state.request_count() == 0


def test_a_ranged_run_over_a_box_of_shards_takes_accounts_of_any_of_its_shards(pipeline, last_days):
    start, end = last_days(3)
    pipeline.register()
    chosen = one_account_per_shard(pipeline.sandbox.state, 3)
    pipeline.sandbox.state.reset_request_log()
    result = box_run(pipeline, start, end, min(chosen), max(chosen), list(chosen.values()))
    assert result.success
    assert persisted(pipeline.database_url) == ground_truth(pipeline.sandbox.state, chosen.values(), start, end)
    assert transactions_requested(pipeline.sandbox.state) == set(chosen.values()), "neighbours on those shards: not"


def test_a_ranged_run_refuses_an_account_outside_its_box_with_the_clear_error(pipeline, last_days):
    start, end = last_days(2)
    pipeline.register()
    chosen = one_account_per_shard(pipeline.sandbox.state, 3)
    low, middle, high = sorted(chosen)
    pipeline.sandbox.state.reset_request_log()
    result = box_run(pipeline, start, end, low, middle, [chosen[low], chosen[high], "../x"])
    assert not result.success
    failure = result.get_run_failure_event()
    [step_failure] = [event for event in result.all_events if event.is_step_failure]
    assert not any(event.is_step_up_for_retry for event in result.all_events), "a bad filter is not retried"
    message = step_failure.step_failure_data.error.message if step_failure.step_failure_data.error else ""
    message += step_failure.step_failure_data.user_failure_data.description or ""
    expected = f"{chosen[high]} belongs to shard {high}, not to this run's shards {list(range(low, middle + 1))}"
    assert expected in message, (failure, message)
    assert f"shard-{high:02d}" in message, "it says where the account can be launched"
    assert "'../x' is not a Mono account id" in message
    assert transactions_requested(pipeline.sandbox.state) == set(), "nothing fetched, not even the good account"
    assert persisted(pipeline.database_url) == set()


def test_the_discovery_sensor_requests_each_new_account_on_its_own_shard(pipeline, last_days, monkeypatch):
    monkeypatch.setenv("MONO_INITIAL_BACKFILL_DAYS", "4")  # a ranged run's events cost per day: keep it short
    resources = {
        "mono": MonoResource(secret_key=pipeline.sandbox.state.secret_key, base_url=pipeline.sandbox.base_url),
        "database": DatabaseResource(url=pipeline.database_url),
    }
    with dg.build_sensor_context(instance=pipeline.instance, resources=resources) as context:
        result = mono_account_discovery(context)
    shards = registered_shards(pipeline)
    assert len(set(shards.values())) >= 3 and len(result.run_requests) == len(shards)
    for request in result.run_requests:
        [account] = request.run_config["ops"]["mono_raw_transactions"]["config"]["accounts"]
        assert request.tags["mono/shard"] == f"shard-{shards[account]:02d}"
    # Run the requests of three accounts on three shards as the daemon would: each succeeds.
    chosen = one_account_per_shard(pipeline.sandbox.state, 3)
    for request in result.run_requests:
        if request.run_config["ops"]["mono_raw_transactions"]["config"]["accounts"][0] in chosen.values():
            outcome = pipeline.job.execute_in_process(
                instance=pipeline.instance, tags=request.tags, run_config=request.run_config, raise_on_error=False
            )
            assert outcome.success, request.tags
    start, end = last_days(4)
    assert persisted(pipeline.database_url) == ground_truth(pipeline.sandbox.state, chosen.values(), start, end)


def test_the_webhook_sensor_resyncs_updated_accounts_each_on_its_own_shard(pipeline, last_days):
    pipeline.register()
    chosen = one_account_per_shard(pipeline.sandbox.state, 3)
    for account in chosen.values():
        receive(pipeline, "account_updated", account)
    resources = {
        "mono": MonoResource(secret_key=pipeline.sandbox.state.secret_key, base_url=pipeline.sandbox.base_url),
        "database": DatabaseResource(url=pipeline.database_url),
        "notifier": NotifierResource(database_url=pipeline.database_url),
    }
    with dg.build_sensor_context(instance=pipeline.instance, resources=resources) as context:
        result = mono_webhook_inbox_sensor(context)
    assert len(result.run_requests) == 3
    for request in result.run_requests:
        outcome = pipeline.job.execute_in_process(
            instance=pipeline.instance, tags=request.tags, run_config=request.run_config, raise_on_error=False
        )
        assert outcome.success, request.tags
    runs = recorded(pipeline)
    assert {run_shard(run): run_accounts(run) for run in runs} == {s: [a] for s, a in chosen.items()}
    days = {date.fromisoformat(run.tags[RANGE_START_TAG].split("|")[0]) for run in runs}
    days |= {date.fromisoformat(run.tags[RANGE_END_TAG].split("|")[0]) for run in runs}
    assert len(days) == 2, "the three resyncs cover the same window"
    truth = ground_truth(pipeline.sandbox.state, chosen.values(), min(days), max(days))
    assert truth and persisted(pipeline.database_url) == truth
