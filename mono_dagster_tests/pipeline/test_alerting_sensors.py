"""The failure-streak and check-alert sensors against real runs on a real Dagster instance, the sandbox,
the database (SQLite and Postgres) and a local HTTP receiver standing in for PagerDuty and Slack."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date

import dagster as dg
import pytest
import sqlalchemy as sa

from mono_dagster.definitions import build_definitions
from mono_dagster.defs import names
from mono_dagster.defs.check_alert_sensor import ASSET_JOB, mono_check_alerts
from mono_dagster.defs.failure_streak_sensor import mono_failure_streak, shard_run_outcomes, shards_of_run
from mono_dagster.defs.launch import SHARD_TAG, run_shards
from mono_dagster.defs.partition_range import RANGE_END_TAG, RANGE_START_TAG
from mono_dagster.defs.resources import DatabaseResource
from mono_dagster.notify import NotifierResource
from mono_dagster.pipeline import events
from mono_dagster.pipeline.accounts import add_accounts
from mono_dagster.sandbox.faults import FaultPlan
from mono_dagster.storage.tables import mono_accounts, pipeline_events
from mono_dagster_tests.notify.capture import CaptureServer
from mono_dagster_tests.pipeline.conftest import sandbox_mono_resource

ROUTING_KEY = "R0UTINGKEY0000000000000000000000"
FAIL_EVERY_REQUEST = FaultPlan(rate=1.0, kinds=("400",))


@pytest.fixture()
def receiver() -> Iterator[CaptureServer]:
    with CaptureServer() as server:
        yield server


def resources(pipeline, receiver: CaptureServer) -> dict:
    return {
        "notifier": NotifierResource(
            database_url=pipeline.database_url,
            pagerduty_routing_key=ROUTING_KEY,
            pagerduty_events_url=receiver.pagerduty_url,
            slack_webhook_url=receiver.slack_url,
            retry_base_delay_seconds=0.01,
        ),
        "database": DatabaseResource(url=pipeline.database_url),
    }


def streak_tick(pipeline, receiver) -> dg.SkipReason:
    with dg.build_sensor_context(instance=pipeline.instance, resources=resources(pipeline, receiver)) as context:
        return mono_failure_streak(context)


class CheckAlerts:
    """Ticks `mono_check_alerts` as the daemon does, carrying its cursor from tick to tick."""

    def __init__(self, pipeline, receiver) -> None:
        self.pipeline, self.receiver, self.cursor = pipeline, receiver, None

    def tick(self) -> dg.SensorResult:
        with dg.build_sensor_context(
            instance=self.pipeline.instance, resources=resources(self.pipeline, self.receiver), cursor=self.cursor
        ) as context:
            result = mono_check_alerts(context)
        self.cursor = result.cursor
        return result


def event_names(pipeline, *wanted: str) -> list[tuple[str, str | None]]:
    with pipeline.engine.connect() as conn:
        rows = conn.execute(
            sa.select(pipeline_events.c.event_name, pipeline_events.c.account_id)
            .where(pipeline_events.c.event_name.in_(wanted))
            .order_by(pipeline_events.c.id)
        )
        return [(row.event_name, row.account_id) for row in rows]


def escalation_payloads(pipeline) -> list[dict]:
    with pipeline.engine.connect() as conn:
        payloads = conn.execute(
            sa.select(pipeline_events.c.payload)
            .where(pipeline_events.c.event_name == events.SYNC_ESCALATED)
            .order_by(pipeline_events.c.id)
        ).scalars()
        return [json.loads(payload) for payload in payloads]


def streak_of(pipeline, account: str) -> int:
    with pipeline.engine.connect() as conn:
        return conn.execute(
            sa.select(mono_accounts.c.failure_streak).where(mono_accounts.c.account_id == account)
        ).scalar_one()


def actions(receiver: CaptureServer) -> list[tuple[str, str]]:
    return [(r.body["event_action"], r.body["dedup_key"]) for r in receiver.pagerduty]


# The longest scenario (13 runs) runs on Postgres, the production database; the notifier's de-duplication
# and every query the sensors make are exercised on SQLite too by the other tests.
@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_forced_streak_of_five_failures_escalates_exactly_once_per_streak(pipeline, receiver, last_days, caplog):
    start, end = last_days(3)
    [account] = pipeline.register(pipeline.sandbox.state.account_ids()[:1])
    key = f"mono.sync.escalated:account:{account}"

    def failing_run() -> None:
        pipeline.sandbox.state.set_fault_plan(FAIL_EVERY_REQUEST)
        assert not any(run.success for run in pipeline.run(start, end, [account]))
        streak_tick(pipeline, receiver)

    with caplog.at_level(logging.ERROR, logger="mono_dagster.notify.escalation"):
        for expected_streak in range(1, 5):
            failing_run()
            assert streak_of(pipeline, account) == expected_streak
            assert receiver.requests == [], f"no escalation below 5 (streak {expected_streak})"
        failing_run()
    assert streak_of(pipeline, account) == 5
    assert actions(receiver) == [("trigger", key)], "one page; the shard's own streak is held back"
    assert event_names(pipeline, events.SYNC_ESCALATED) == [(events.SYNC_ESCALATED, account)]
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("ESCALATION")] == [
        f"ESCALATION {key}: " + receiver.pagerduty[0].body["payload"]["summary"]
    ]
    [payload] = escalation_payloads(pipeline)
    assert payload["failures"] == 5 and payload["threshold"] == 5 and payload["scope"] == "account"
    assert payload["account_id"] == account and payload["likely_cause"] == "Mono API outage / credential issues"
    assert payload["last_error"] and payload["run_id"] and payload["correlation_id"]
    pd = receiver.pagerduty[0].body
    assert pd["payload"]["severity"] == "error"
    ids = ("run_id", "correlation_id")  # the outbox's scrubber may mask digit runs inside UUIDs (see report)
    assert {k: v for k, v in pd["payload"]["custom_details"].items() if k not in ids} == {
        k: v for k, v in payload.items() if k not in ids
    }
    assert pd["payload"]["custom_details"]["run_id"] == pipeline.instance.get_run_records(limit=1)[0].dagster_run.run_id

    failing_run()  # the 6th failure of the same streak
    assert streak_of(pipeline, account) == 6
    assert actions(receiver) == [("trigger", key)]
    assert len(event_names(pipeline, events.SYNC_ESCALATED)) == 1

    pipeline.sandbox.state.set_fault_plan(FaultPlan())
    assert all(run.success for run in pipeline.run(start, end, [account]))
    assert streak_of(pipeline, account) == 0, "a success resets the registry's streak"
    streak_tick(pipeline, receiver)
    assert actions(receiver) == [("trigger", key), ("resolve", key)]
    assert event_names(pipeline, events.SYNC_ESCALATION_RESOLVED) == [(events.SYNC_ESCALATION_RESOLVED, account)]

    for _ in range(4):
        failing_run()
    assert actions(receiver) == [("trigger", key), ("resolve", key)]
    failing_run()
    assert actions(receiver) == [("trigger", key), ("resolve", key), ("trigger", key)], "a new streak pages again"
    assert len(event_names(pipeline, events.SYNC_ESCALATED)) == 2


def test_five_failed_runs_of_a_shard_escalate_it_when_no_account_streak_explains_them(pipeline, receiver, last_days):
    start, end = last_days(3)
    accounts = pipeline.sandbox.state.account_ids()
    with pipeline.client() as client:  # every account on shard 0
        add_accounts(client, pipeline.engine, accounts, shard_count=1)
    first, second = sorted(accounts)[:2]
    for attempt in range(5):
        # One request per account, in id order: the failing account alternates, so no account streak passes 1.
        pipeline.sandbox.state.set_fault_plan(FaultPlan(script=["400"] if attempt % 2 == 0 else ["ok", "400"]))
        assert not any(run.success for run in run_shards(start, end, [0], instance=pipeline.instance, job=pipeline.job))
        streak_tick(pipeline, receiver)
    assert max(streak_of(pipeline, account) for account in accounts) == 1
    assert {streak_of(pipeline, first), streak_of(pipeline, second)} == {0, 1}
    outcomes = shard_run_outcomes(pipeline.instance)
    assert len(outcomes) == 5 and all(o.failed and o.shard == 0 for o in outcomes)
    assert actions(receiver) == [("trigger", "mono.sync.escalated:shard:00")]
    body = receiver.pagerduty[0].body
    assert body["payload"]["severity"] == "critical" and body["payload"]["group"] == "shard-00"
    assert body["payload"]["custom_details"]["failed_run_ids"] == [o.run_id for o in outcomes]
    assert body["payload"]["custom_details"]["last_error"], "the latest failed run's error"
    assert event_names(pipeline, events.SYNC_ESCALATED) == [(events.SYNC_ESCALATED, None)]

    pipeline.sandbox.state.set_fault_plan(FaultPlan())
    assert all(run.success for run in run_shards(start, end, [0], instance=pipeline.instance, job=pipeline.job))
    streak_tick(pipeline, receiver)
    assert actions(receiver)[-1] == ("resolve", "mono.sync.escalated:shard:00")


def test_failed_checks_page_on_error_and_chat_on_warn_with_partition_and_masked_sample(pipeline, receiver, last_days):
    start, end = last_days(3)
    accounts = pipeline.register()
    alerts = CheckAlerts(pipeline, receiver)
    # A balance Mono got wrong (an 11-digit figure, as an account number would be): the WARN balance check.
    victim = accounts[0]
    served = pipeline.sandbox.state.transactions(victim, start, end)
    pipeline.sandbox.state.set_fault_plan(
        FaultPlan(malformed={served[len(served) // 2]["id"]: {"balance": 98765432101}})
    )
    runs = pipeline.run(start, end, [victim], only=True)
    assert all(run.success for run in runs)
    alerts.tick()
    [chat] = receiver.slack
    assert receiver.pagerduty == []
    text = json.dumps(chat.body)
    assert f"{names.PERSISTED_ASSET}/{names.BALANCE_CHECK} failed for {start.isoformat()}|shard-" in chat.body["text"]
    assert "[WARNING]" in chat.body["text"]
    assert victim in text and "98765432101" not in text and "******2101" in text, "sample present, number masked"

    # An account whose fetch fails: the blocking ERROR check `all_accounts_synced` pages on-call.
    pipeline.sandbox.state.set_fault_plan(FAIL_EVERY_REQUEST)
    failed = pipeline.run(start, end, [victim], only=True)
    assert not any(run.success for run in failed)
    alerts.tick()
    [page] = receiver.pagerduty
    assert page.body["event_action"] == "trigger" and page.body["payload"]["severity"] == "error"
    details = page.body["payload"]["custom_details"]
    assert details["check"] == names.ACCOUNTS_SYNCED_CHECK and details["check_severity"] == "ERROR"
    assert details["partition"].startswith(start.isoformat()) and details["run_id"] == failed[0].run_id
    assert victim in details["sample"]
    assert alerts.tick().cursor and len(receiver.requests) == 2, "the same runs are not alerted twice"

    pipeline.sandbox.state.set_fault_plan(FaultPlan())
    assert all(run.success for run in pipeline.run(start, end, [victim], only=True))
    alerts.tick()
    assert actions(receiver) == [("trigger", page.body["dedup_key"]), ("resolve", page.body["dedup_key"])]


def test_latency_breaches_and_zero_transaction_streaks_warn_the_chat_once(pipeline, receiver, last_days, monkeypatch):
    monkeypatch.setenv("MONO_ZERO_TRANSACTION_STREAK", "2")
    start, end = last_days(1)
    [account] = pipeline.register(pipeline.sandbox.state.account_ids()[:1])
    alerts = CheckAlerts(pipeline, receiver)
    pipeline.sandbox.state.set_fault_plan(FaultPlan(script=["slow"], slow_seconds=2.1))  # a page over the 2 s SLA
    assert all(run.success for run in pipeline.run(start, end, [account]))
    alerts.tick()
    CheckAlerts(pipeline, receiver).tick()  # a sensor that lost its cursor re-reads the breach: still one warning
    [latency] = receiver.slack
    assert latency.body["text"].startswith(":warning: [WARNING] Mono latency SLA breached for account " + account)
    assert receiver.pagerduty == []

    def empty_fetch(day: date) -> None:  # the sandbox has no 2024 history
        assert all(run.success for run in pipeline.run(day, day, [account]))
        alerts.tick()

    empty_fetch(date(2024, 1, 1))
    assert len(receiver.slack) == 1
    empty_fetch(date(2024, 1, 2))
    assert len(receiver.slack) == 2
    zero = receiver.slack[-1].body
    assert "no transactions for account " + account in zero["text"] and "last 2 fetches" in zero["text"]
    empty_fetch(date(2024, 1, 3))
    assert len(receiver.slack) == 2, "the same streak is not reported twice"

    assert all(run.success for run in pipeline.run(start, end, [account]))
    alerts.tick()
    empty_fetch(date(2024, 2, 1))
    empty_fetch(date(2024, 2, 2))
    assert len(receiver.slack) == 3, "rows came back, so the next empty streak is reported again"
    assert receiver.pagerduty == []


def test_the_kill_switch_makes_both_alerting_sensors_skip(pipeline, receiver, last_days, monkeypatch):
    start, end = last_days(1)
    [account] = pipeline.register(pipeline.sandbox.state.account_ids()[:1])
    with pipeline.engine.begin() as conn:
        conn.execute(sa.update(mono_accounts).values(failure_streak=7, last_error="HTTP 400"))
    monkeypatch.setenv("MONO_INGESTION_ENABLED", "false")
    skipped = streak_tick(pipeline, receiver)
    assert isinstance(skipped, dg.SkipReason) and "MONO_INGESTION_ENABLED=false" in skipped.skip_message
    result = CheckAlerts(pipeline, receiver).tick()
    assert "MONO_INGESTION_ENABLED=false" in result.skip_reason.skip_message
    assert receiver.requests == []
    monkeypatch.setenv("MONO_INGESTION_ENABLED", "true")
    assert "1 escalation(s) raised" in streak_tick(pipeline, receiver).skip_message
    assert actions(receiver) == [("trigger", f"mono.sync.escalated:account:{account}")]
    del start, end


def test_a_failed_delivery_fails_the_tick_and_the_next_tick_sends_it(pipeline, receiver):
    [account] = pipeline.register(pipeline.sandbox.state.account_ids()[:1])
    with pipeline.engine.begin() as conn:
        conn.execute(sa.update(mono_accounts).values(failure_streak=5, last_error="HTTP 400"))
    receiver.script.append(400)
    with pytest.raises(dg.Failure, match="notification delivery failed"):
        streak_tick(pipeline, receiver)
    assert event_names(pipeline, events.SYNC_ESCALATED) == [], "no escalation is recorded until it is delivered"
    assert "1 escalation(s) raised" in streak_tick(pipeline, receiver).skip_message
    assert event_names(pipeline, events.SYNC_ESCALATED) == [(events.SYNC_ESCALATED, account)]
    assert actions(receiver) == [("trigger", f"mono.sync.escalated:account:{account}")] * 2


# -- runs launched from the UI: Dagster's implicit asset job ----------------------------------------------

MONO_ASSETS = [dg.AssetKey(names.RAW_ASSET), dg.AssetKey(names.CANONICAL_ASSET), dg.AssetKey(names.PERSISTED_ASSET)]


def ui_asset_job(pipeline) -> dg.JobDefinition:
    """`__ASSET_JOB`, the job a UI "Materialize" or partition backfill runs, bound to the sandbox and database."""
    mono = sandbox_mono_resource(pipeline.sandbox)
    job = build_definitions(mono, DatabaseResource(url=pipeline.database_url)).resolve_implicit_global_asset_job_def()
    assert job.name == ASSET_JOB == "__ASSET_JOB"
    return job


def ui_backfill_run(pipeline, start: date, end: date, shard: int, last_shard: int | None = None):
    """One run of a UI partition backfill (single-run policy): the range tags, no `mono/shard` tag."""
    last = shard if last_shard is None else last_shard
    tags = {
        RANGE_START_TAG: f"{start.isoformat()}|shard-{shard:02d}",
        RANGE_END_TAG: f"{end.isoformat()}|shard-{last:02d}",
        "dagster/backfill": "uibackfl",
    }
    return ui_asset_job(pipeline).execute_in_process(
        instance=pipeline.instance, tags=tags, asset_selection=MONO_ASSETS, raise_on_error=False
    )


def ui_materialize(pipeline, day: date, shard: int):
    """A UI "Materialize" of the three assets for one (day, shard) partition."""
    return ui_asset_job(pipeline).execute_in_process(
        instance=pipeline.instance,
        partition_key=f"{day.isoformat()}|shard-{shard:02d}",
        asset_selection=MONO_ASSETS,
        raise_on_error=False,
    )


@dg.asset(
    name="another_locations_asset",
    check_specs=[dg.AssetCheckSpec("always_fails", asset="another_locations_asset")],
)
def another_locations_asset() -> dg.MaterializeResult:
    return dg.MaterializeResult(check_results=[dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR)])


def another_locations_ui_run(pipeline) -> dg.ExecuteInProcessResult:
    """A UI run of another code location's asset on the same instance: also `__ASSET_JOB`, not ours."""
    job = dg.Definitions(assets=[another_locations_asset]).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=pipeline.instance, raise_on_error=False)
    assert job.name == ASSET_JOB
    assert any(not e.passed for e in result.get_asset_check_evaluations())
    return result


def test_a_failed_error_check_of_a_ui_backfill_run_pages_on_call(pipeline, receiver, last_days):
    start, end = last_days(3)
    [victim] = pipeline.register(pipeline.sandbox.state.account_ids()[:1])
    [shard] = pipeline.shards([victim])
    alerts = CheckAlerts(pipeline, receiver)
    pipeline.sandbox.state.set_fault_plan(FAIL_EVERY_REQUEST)
    failed = ui_backfill_run(pipeline, start, end, shard)
    assert not failed.success
    assert pipeline.instance.get_run_by_id(failed.run_id).job_name == ASSET_JOB
    another_locations_ui_run(pipeline)

    alerts.tick()
    [page] = receiver.pagerduty
    assert page.body["event_action"] == "trigger" and page.body["payload"]["severity"] == "error"
    details = page.body["payload"]["custom_details"]
    assert details["check"] == names.ACCOUNTS_SYNCED_CHECK and details["job"] == ASSET_JOB
    assert details["run_id"] == failed.run_id and victim in details["sample"]
    assert details["partition"] == f"{start.isoformat()}|shard-{shard:02d}..{end.isoformat()}|shard-{shard:02d}"
    assert "another_locations_asset" not in json.dumps([r.body for r in receiver.requests])

    pipeline.sandbox.state.set_fault_plan(FaultPlan())
    assert ui_backfill_run(pipeline, start, end, shard).success
    alerts.tick()
    assert actions(receiver) == [("trigger", page.body["dedup_key"]), ("resolve", page.body["dedup_key"])]

    # A single-partition UI "Materialize" is read the same way, keyed by its partition.
    pipeline.sandbox.state.set_fault_plan(FAIL_EVERY_REQUEST)
    assert not ui_materialize(pipeline, end, shard).success
    alerts.tick()
    assert actions(receiver)[-1] == (
        "trigger",
        f"asset_check:{names.PERSISTED_ASSET}:{names.ACCOUNTS_SYNCED_CHECK}:{end.isoformat()}|shard-{shard:02d}",
    )


def test_failed_ui_runs_of_one_shard_count_toward_its_failure_streak(pipeline, receiver, last_days):
    start, end = last_days(2)
    accounts = pipeline.sandbox.state.account_ids()
    with pipeline.client() as client:  # every account on shard 0
        add_accounts(client, pipeline.engine, accounts, shard_count=1)

    # Not counted: a UI run over two shards, and another code location's UI run.
    pipeline.sandbox.state.set_fault_plan(FaultPlan(script=["400"]))
    two_shards = ui_backfill_run(pipeline, start, end, 0, last_shard=1)
    assert not two_shards.success
    another_locations_ui_run(pipeline)
    assert shard_run_outcomes(pipeline.instance) == []

    launches = [
        lambda: run_shards(start, end, [0], instance=pipeline.instance, job=pipeline.job)[0].run_id,
        lambda: ui_materialize(pipeline, end, 0).run_id,
        lambda: ui_backfill_run(pipeline, start, end, 0).run_id,
    ]
    run_ids = []
    for attempt in range(5):
        # One request per account, in id order: the failing account alternates, so no account streak passes 2.
        pipeline.sandbox.state.set_fault_plan(FaultPlan(script=["400"] if attempt % 2 == 0 else ["ok", "400"]))
        run_ids.append(launches[attempt % 3]())
        assert pipeline.instance.get_run_by_id(run_ids[-1]).status == dg.DagsterRunStatus.FAILURE
        streak_tick(pipeline, receiver)
        if attempt < 4:
            assert receiver.requests == [], f"no escalation below 5 ({attempt + 1} failed runs)"
    assert max(streak_of(pipeline, account) for account in accounts) < 5

    outcomes = shard_run_outcomes(pipeline.instance)
    assert [o.run_id for o in outcomes] == run_ids[::-1] and all(o.failed and o.shard == 0 for o in outcomes)
    assert {o.job for o in outcomes} == {"mono_sync_job", ASSET_JOB}
    assert actions(receiver) == [("trigger", "mono.sync.escalated:shard:00")]
    body = receiver.pagerduty[0].body
    assert body["payload"]["custom_details"]["failed_run_ids"] == run_ids[::-1]
    assert body["payload"]["custom_details"]["component"] == ASSET_JOB, "the latest failed run was a UI backfill"

    pipeline.sandbox.state.set_fault_plan(FaultPlan())
    assert ui_materialize(pipeline, end, 0).success, "a successful UI run ends the shard's streak"
    streak_tick(pipeline, receiver)
    assert actions(receiver)[-1] == ("resolve", "mono.sync.escalated:shard:00")


def test_which_shards_a_run_names():
    assert shards_of_run({"dagster/partition": "2026-11-01|shard-03"}) == (3,)
    assert shards_of_run({RANGE_START_TAG: "2026-11-01|shard-02", RANGE_END_TAG: "2026-11-07|shard-02"}) == (2,)
    assert shards_of_run({RANGE_START_TAG: "2026-11-01|shard-00", RANGE_END_TAG: "2026-11-07|shard-01"}) == (0, 1)
    assert shards_of_run({SHARD_TAG: "shard-05"}) == (5,)
    assert shards_of_run({SHARD_TAG: "shard-99"}) == ()
    assert shards_of_run({"dagster/partition": "not-ours"}) == ()
    assert shards_of_run({}) == ()
