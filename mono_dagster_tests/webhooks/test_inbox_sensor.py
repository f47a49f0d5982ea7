"""The inbox sensor on a real Dagster instance, against the sandbox (Mono) and a local stand-in for
PagerDuty: what each event does, both casings, run keys, the kill switch, and crash safety."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from mono_dagster.defs.partition_range import RANGE_END_TAG, RANGE_START_TAG
from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.defs.webhook_inbox_sensor import mono_webhook_inbox_sensor
from mono_dagster.notify import NotifierResource
from mono_dagster.sandbox.faults import FaultPlan
from mono_dagster.sandbox.webhooks import encode, webhook_body
from mono_dagster.storage.tables import mono_accounts, mono_webhook_inbox
from mono_dagster.storage.webhook_inbox import InboxDelivery, store_delivery
from mono_dagster.webhooks.actions import MAX_ATTEMPTS
from mono_dagster.webhooks.events import parse_delivery
from mono_dagster_tests.notify.capture import CaptureServer


@pytest.fixture()
def pagerduty():
    with CaptureServer() as server:
        yield server


def tick(pipeline, pagerduty, cursor=None, *, max_attempts=3):
    resources = {
        "mono": MonoResource(
            secret_key=pipeline.sandbox.state.secret_key,
            base_url=pipeline.sandbox.base_url,
            max_attempts=max_attempts,
            retry_base_delay_seconds=0.001,
            retry_max_delay_seconds=0.01,
        ),
        "database": DatabaseResource(url=pipeline.database_url),
        "notifier": NotifierResource(
            database_url=pipeline.database_url,
            pagerduty_routing_key="test-routing-key",
            pagerduty_events_url=pagerduty.pagerduty_url,
            retry_base_delay_seconds=0.001,
        ),
    }
    with dg.build_sensor_context(instance=pipeline.instance, resources=resources, cursor=cursor) as context:
        return mono_webhook_inbox_sensor(context)


def receive(pipeline, event, account, *, casing="camel", **extra) -> None:
    """Stores a delivery as the receiver does (the receiver itself is tested over HTTP elsewhere)."""
    body = webhook_body(pipeline.sandbox.state, event, account, casing=casing, **extra)
    store_raw(pipeline, encode(body))


def store_raw(pipeline, content: bytes) -> None:
    parsed = parse_delivery(content)
    delivery = InboxDelivery(
        parsed.delivery_key, parsed.event_name, parsed.account_id, parsed.payload, datetime.now(UTC)
    )
    with pipeline.engine.begin() as conn:
        store_delivery(conn, delivery)


def inbox(pipeline) -> list[dict]:
    with pipeline.engine.connect() as conn:
        rows = conn.execute(sa.select(mono_webhook_inbox).order_by(mono_webhook_inbox.c.id))
        return [dict(row._mapping) for row in rows]


def outcomes(pipeline) -> list[str | None]:
    return [row["outcome"] for row in inbox(pipeline)]


def statuses(pipeline) -> dict[str, str]:
    with pipeline.engine.connect() as conn:
        return dict(conn.execute(sa.select(mono_accounts.c.account_id, mono_accounts.c.status)).all())


def yesterday():
    return datetime.now(UTC).date() - timedelta(days=1)


def test_account_connected_registers_the_account_and_requests_its_initial_backfill(pipeline, pagerduty):
    account = pipeline.sandbox.state.account_ids()[0]
    receive(pipeline, "account_connected", account)
    result = tick(pipeline, pagerduty)
    assert statuses(pipeline) == {account: "active"}
    assert outcomes(pipeline) == ["registered"]
    [request] = result.run_requests
    assert request.run_key.startswith(f"initial-backfill:{account}:")
    assert request.run_config["ops"]["mono_raw_transactions"]["config"]["accounts"] == [account]
    assert request.tags["mono/reason"] == "initial-backfill"
    assert request.tags[RANGE_END_TAG].startswith(yesterday().isoformat())
    assert request.tags[RANGE_START_TAG].startswith((yesterday() - timedelta(days=89)).isoformat())
    # Connected again (another delivery of the same news): already registered, no second backfill.
    receive(pipeline, "account_connected", account, casing="snake")
    again = tick(pipeline, pagerduty, cursor=result.cursor)
    assert again.run_requests == [] and outcomes(pipeline) == ["registered", "ignored"]


def test_account_connected_for_an_account_mono_does_not_know_is_ignored(pipeline, pagerduty):
    store_raw(pipeline, b'{"event": "mono.events.account_connected", "data": {"id": "ffffffffffffffffffffffff"}}')
    result = tick(pipeline, pagerduty)
    assert result.run_requests == [] and statuses(pipeline) == {}
    [row] = inbox(pipeline)
    assert row["outcome"] == "ignored" and "404" in row["detail"]


@pytest.mark.parametrize("casing", ["camel", "snake"])
def test_account_updated_requests_one_resync_of_the_recent_window(pipeline, pagerduty, casing, monkeypatch):
    monkeypatch.setenv("MONO_WEBHOOK_RESYNC_DAYS", "3")
    first, second = pipeline.register()[:2]
    receive(pipeline, "account_updated", first, casing=casing)
    receive(pipeline, "account_updated", first, casing=casing, data_status="PARTIAL")  # a second sync, same tick
    receive(pipeline, "account_updated", second, casing=casing, data_status="PROCESSING")  # nothing new yet
    result = tick(pipeline, pagerduty)
    [request] = result.run_requests
    assert request.run_key.startswith(f"webhook-resync:{first}:")
    assert request.run_config["ops"]["mono_raw_transactions"]["config"]["accounts"] == [first]
    assert request.tags[RANGE_START_TAG].startswith((yesterday() - timedelta(days=2)).isoformat())
    assert request.tags[RANGE_END_TAG].startswith(yesterday().isoformat())
    rows = inbox(pipeline)
    assert [row["outcome"] for row in rows] == ["resync_requested", "resync_requested", "ignored"]
    assert request.run_key in rows[1]["detail"]  # the second event joined the first one's run
    assert "PROCESSING" in rows[2]["detail"]


def test_account_updated_for_an_unregistered_or_paused_account_requests_nothing(pipeline, pagerduty):
    first, second = pipeline.sandbox.state.account_ids()[:2]
    pipeline.register([second])
    receive(pipeline, "reauthorisation_required", second)
    receive(pipeline, "account_updated", first)
    receive(pipeline, "account_updated", second)
    result = tick(pipeline, pagerduty)
    assert result.run_requests == []
    assert outcomes(pipeline) == ["paused", "ignored", "ignored"]


def test_reauthorisation_pauses_and_pages_once_and_reauthorised_resumes_and_resolves(pipeline, pagerduty):
    account = pipeline.register()[0]
    receive(pipeline, "reauthorisation_required", account)
    receive(pipeline, "reauthorisation_required", account, casing="snake")  # the same news again
    first = tick(pipeline, pagerduty)
    assert statuses(pipeline)[account] == "paused"
    assert outcomes(pipeline) == ["paused", "paused"]
    [page] = pagerduty.pagerduty
    assert page.body["event_action"] == "trigger"
    assert page.body["dedup_key"] == f"mono-reauthorisation:{account}"
    assert account in page.body["payload"]["summary"]

    # A paused account is not synced.
    pipeline.sandbox.state.reset_request_log()
    pipeline.run(yesterday(), yesterday(), [account])  # the account's shard, every active account of it
    assert not any(account in record.path for record in pipeline.sandbox.state.request_log)

    receive(pipeline, "account_reauthorized", account)
    tick(pipeline, pagerduty, cursor=first.cursor)
    assert statuses(pipeline)[account] == "active"
    assert outcomes(pipeline)[-1] == "resumed"
    assert [request.body["event_action"] for request in pagerduty.pagerduty] == ["trigger", "resolve"]


def test_account_unlinked_stops_scheduling_it_and_keeps_its_history(pipeline, pagerduty):
    account = pipeline.register()[0]
    assert all(run.success for run in pipeline.run(yesterday(), yesterday(), [account], only=True))
    kept = [row for row in pipeline.persisted() if row["account_id"] == account]
    assert kept
    receive(pipeline, "account_unlinked", account, casing="snake")
    tick(pipeline, pagerduty)
    assert statuses(pipeline)[account] == "unlinked"
    assert outcomes(pipeline) == ["unlinked"]
    assert [row for row in pipeline.persisted() if row["account_id"] == account] == kept


def test_unknown_events_are_kept_and_marked_ignored(pipeline, pagerduty):
    account = pipeline.register()[0]
    sync_failed = {"event": "mono.events.sync_failed", "data": {"account": {"_id": account}}}
    store_raw(pipeline, json.dumps(sync_failed).encode())
    store_raw(pipeline, json.dumps({"event": "mono.events.account_updated", "data": {}}).encode())
    result = tick(pipeline, pagerduty)
    assert result.run_requests == []
    rows = inbox(pipeline)
    assert [(row["event_name"], row["outcome"]) for row in rows] == [
        ("mono.events.sync_failed", "ignored"),
        ("mono.events.account_updated", "ignored"),
    ]
    assert rows[0]["processed_at"] is not None and "no action" in rows[0]["detail"]
    assert "names no account" in rows[1]["detail"]


def test_the_kill_switch_leaves_the_inbox_untouched(pipeline, pagerduty, monkeypatch):
    account = pipeline.register()[0]
    receive(pipeline, "reauthorisation_required", account)
    monkeypatch.setenv("MONO_INGESTION_ENABLED", "false")
    result = tick(pipeline, pagerduty)
    assert isinstance(result, dg.SkipReason) and "MONO_INGESTION_ENABLED=false" in result.skip_message
    assert outcomes(pipeline) == [None] and statuses(pipeline)[account] == "active"
    assert pagerduty.pagerduty == []


def test_a_tick_whose_result_was_lost_is_re_requested_under_the_same_run_keys_and_nothing_acts_twice(
    pipeline, pagerduty
):
    first, second = pipeline.sandbox.state.account_ids()[:2]
    pipeline.register([second])
    receive(pipeline, "account_connected", first)
    receive(pipeline, "account_updated", second)
    receive(pipeline, "reauthorisation_required", second)
    earlier = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    lost = tick(pipeline, pagerduty, cursor=earlier)  # committed, but the daemon never stored its result
    processed = inbox(pipeline)
    replayed = tick(pipeline, pagerduty, cursor=earlier)  # the next tick still sees the old cursor
    assert sorted(r.run_key for r in replayed.run_requests) == sorted(r.run_key for r in lost.run_requests)
    assert len(lost.run_requests) == 2
    assert inbox(pipeline) == processed  # no row acted on again
    assert len(pagerduty.pagerduty) == 1
    after = tick(pipeline, pagerduty, cursor=replayed.cursor)
    assert after.run_requests == []


def test_a_failing_event_is_retried_in_order_then_given_up_on(pipeline, pagerduty):
    first, second = pipeline.sandbox.state.account_ids()[:2]
    pipeline.register([second])
    receive(pipeline, "account_connected", first)
    receive(pipeline, "reauthorisation_required", second)
    pipeline.sandbox.state.set_fault_plan(FaultPlan(script=["500"]))
    stuck = tick(pipeline, pagerduty, max_attempts=1)
    assert outcomes(pipeline) == [None, None]  # the later event waits for the earlier one
    assert inbox(pipeline)[0]["attempts"] == 1 and "500" in inbox(pipeline)[0]["last_error"]
    assert "failed, attempt 1" in stuck.skip_reason.skip_message
    recovered = tick(pipeline, pagerduty, cursor=stuck.cursor)  # Mono is fine again
    assert outcomes(pipeline) == ["registered", "paused"]
    assert len(recovered.run_requests) == 1

    receive(pipeline, "account_connected", pipeline.sandbox.state.account_ids()[2])
    pipeline.sandbox.state.set_fault_plan(FaultPlan(script=["500"] * MAX_ATTEMPTS))
    for _ in range(MAX_ATTEMPTS):
        tick(pipeline, pagerduty, max_attempts=1)
    last = inbox(pipeline)[-1]
    assert last["outcome"] == "failed" and last["attempts"] == MAX_ATTEMPTS
