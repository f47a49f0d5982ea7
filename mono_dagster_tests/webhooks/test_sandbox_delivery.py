"""Deliveries from the sandbox to the real receiver, and the issue's done-when: an `account_updated`
event delivered by the sandbox leads to a resync run that lands the account's new transactions."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import dagster as dg
import httpx

from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.defs.webhook_inbox_sensor import mono_webhook_inbox_sensor
from mono_dagster.notify import NotifierResource
from mono_dagster.sandbox.webhooks import EVENTS, deliver_webhook, webhook_body
from mono_dagster_tests.webhooks.conftest import SECRET, running_receiver


def admin_deliver(pipeline, **payload) -> httpx.Response:
    return httpx.post(pipeline.sandbox.base_url + "/_sandbox/webhooks/deliver", json=payload, timeout=10.0)


def test_the_sandbox_delivers_every_event_signed_either_way(pipeline, inbox):
    account = pipeline.sandbox.state.account_ids()[0]
    with running_receiver(pipeline.database_url) as receiver:
        for event in EVENTS:
            for scheme, casing in (("secret", "camel"), ("hmac-sha512", "snake")):
                answer = admin_deliver(
                    pipeline,
                    url=receiver.webhook_url,
                    event=event,
                    account=account,
                    scheme=scheme,
                    casing=casing,
                    secret=SECRET,
                )
                assert answer.status_code == 200, answer.text
                assert answer.json()["status_code"] == 200, (event, scheme, answer.json())
        refused = admin_deliver(pipeline, url=receiver.webhook_url, event="account_updated", account=account)
        assert refused.json()["status_code"] == 401  # the sandbox's default secret is not the receiver's
        helper = deliver_webhook(
            receiver.webhook_url,
            webhook_body(pipeline.sandbox.state, "account_unlinked", account, event_id="evt-1"),
            secret=SECRET,
            scheme="hmac-sha512",
        )
        assert helper.status_code == 200
    rows = inbox()
    assert len(rows) == 2 * len(EVENTS) + 1
    assert {row["account_id"] for row in rows} == {account}
    assert {row["event_name"] for row in rows} == {f"mono.events.{event}" for event in EVENTS}


def test_the_admin_endpoint_reports_bad_requests(pipeline):
    account = pipeline.sandbox.state.account_ids()[0]
    assert admin_deliver(pipeline, event="account_updated", account=account).status_code == 400  # no url
    unknown = admin_deliver(pipeline, url="http://127.0.0.1:9/", event="account_updated", account="nope")
    assert unknown.status_code == 404
    bad_scheme = admin_deliver(
        pipeline, url="http://127.0.0.1:9/", event="account_updated", account=account, scheme="md5"
    )
    assert bad_scheme.status_code == 400 and "scheme" in bad_scheme.json()["error"]
    unreachable = admin_deliver(pipeline, url="http://127.0.0.1:9/", event="account_updated", account=account)
    assert unreachable.status_code == 502


def test_an_account_updated_event_leads_to_a_resync_run_that_lands_the_new_transactions(
    pipeline, last_days, monkeypatch
):
    monkeypatch.setenv("MONO_WEBHOOK_RESYNC_DAYS", "3")
    account = pipeline.register()[0]
    start, end = last_days(3)
    assert all(run.success for run in pipeline.run(start, end, [account], only=True))
    # Mono syncs the bank and finds two transactions we have not fetched, then tells us by webhook.
    new = [
        pipeline.sandbox.state.add_transaction(
            account,
            date=datetime.combine(end - timedelta(days=offset), time(12, 30), tzinfo=UTC),
            amount=12_345 + offset,
            type="credit",
            narration=f"late transfer {offset}",
        )["id"]
        for offset in (0, 1)
    ]
    assert not {(account, txn) for txn in new} & {
        (r["account_id"], r["provider_transaction_id"]) for r in pipeline.persisted()
    }

    with running_receiver(pipeline.database_url) as receiver:
        answer = admin_deliver(
            pipeline,
            url=receiver.webhook_url,
            event="account_updated",
            account=account,
            scheme="hmac-sha512",
            secret=SECRET,
        )
        assert answer.json()["status_code"] == 200

    resources = {
        "mono": MonoResource(secret_key=pipeline.sandbox.state.secret_key, base_url=pipeline.sandbox.base_url),
        "database": DatabaseResource(url=pipeline.database_url),
        "notifier": NotifierResource(database_url=pipeline.database_url),
    }
    with dg.build_sensor_context(instance=pipeline.instance, resources=resources) as context:
        result = mono_webhook_inbox_sensor(context)
    [request] = result.run_requests
    outcome = pipeline.job.execute_in_process(
        instance=pipeline.instance, tags=request.tags, run_config=request.run_config
    )
    assert outcome.success
    persisted = {(r["account_id"], r["provider_transaction_id"]) for r in pipeline.persisted()}
    assert {(account, txn) for txn in new} <= persisted
    assert persisted == pipeline.served(start, end, [account])  # the resync covered exactly the last 3 days
