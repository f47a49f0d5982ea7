"""`NotifierResource` against a real local HTTP receiver standing in for PagerDuty and Slack."""

from __future__ import annotations

import json
import logging
import threading

import dagster as dg
import pytest

from mono_dagster.notify import Alert, NotificationDeliveryError, NotifierResource, notifier_from_environment
from mono_dagster.storage.engine import create_db_engine
from mono_dagster.storage.notifications import get_notification

ROUTING_KEY = "R0UTINGKEY0000000000000000000000"


def notifier(url: str, receiver=None, *, pagerduty: bool = True, chat: bool = True, **extra) -> NotifierResource:
    return NotifierResource(
        database_url=url,
        pagerduty_routing_key=ROUTING_KEY if receiver is not None and pagerduty else None,
        pagerduty_events_url=receiver.pagerduty_url if receiver is not None else "http://127.0.0.1:9/unused",
        slack_webhook_url=receiver.slack_url if receiver is not None and chat else None,
        retry_base_delay_seconds=0.01,
        timeout_seconds=5,
        **extra,
    )


def alert(key: str = "mono.sync.escalated:account:abc", route: str = "oncall", severity: str = "error") -> Alert:
    return Alert(
        dedup_key=key,
        severity=severity,  # type: ignore[arg-type]
        route=route,  # type: ignore[arg-type]
        summary="sync of account abc failed 5 times",
        details={"account_id": "abc", "failures": 5, "component": "mono_raw_transactions", "group": "shard-03"},
    )


def test_an_oncall_alert_is_a_pagerduty_v2_trigger_event(migrated_url, receiver):
    assert notifier(migrated_url, receiver).send(alert()) is True
    [request] = receiver.pagerduty
    assert request.body == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "mono.sync.escalated:account:abc",
        "client": "mono-dagster",
        "payload": {
            "summary": "sync of account abc failed 5 times",
            "source": "mono-dagster",
            "severity": "error",
            "component": "mono_raw_transactions",
            "group": "shard-03",
            "class": "mono.sync.escalated",
            "custom_details": {
                "account_id": "abc",
                "failures": 5,
                "component": "mono_raw_transactions",
                "group": "shard-03",
            },
        },
    }
    assert receiver.slack == []


def test_a_chat_alert_is_a_webhook_message_with_text_and_blocks(migrated_url, receiver):
    assert notifier(migrated_url, receiver).send(alert("latency:abc", route="chat", severity="warning")) is True
    [request] = receiver.slack
    assert request.body["text"] == ":warning: [WARNING] sync of account abc failed 5 times"
    kinds = [block["type"] for block in request.body["blocks"]]
    assert kinds == ["section", "section", "context"]
    fields = [field["text"] for field in request.body["blocks"][1]["fields"]]
    assert "*account_id*\nabc" in fields and "*failures*\n5" in fields
    assert receiver.pagerduty == []


def test_a_key_is_sent_once_across_two_resources_until_it_is_resolved(migrated_url, receiver):
    first, second = notifier(migrated_url, receiver), notifier(migrated_url, receiver)
    assert first.send(alert()) is True
    assert second.send(alert()) is False
    assert first.send(alert()) is False
    assert len(receiver.pagerduty) == 1
    second.resolve("mono.sync.escalated:account:abc")
    assert receiver.pagerduty[-1].body == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "mono.sync.escalated:account:abc",
    }
    second.resolve("mono.sync.escalated:account:abc")  # already resolved: nothing is sent
    assert len(receiver.pagerduty) == 2
    assert first.send(alert()) is True, "after the resolve the next occurrence pages again"
    assert [r.body["event_action"] for r in receiver.pagerduty] == ["trigger", "resolve", "trigger"]
    with create_db_engine(migrated_url).connect() as conn:
        row = get_notification(conn, "mono.sync.escalated:account:abc")
    assert row is not None and row.status == "open" and row.send_count == 2


def test_concurrent_senders_of_one_key_send_it_exactly_once(migrated_url, receiver):
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def send() -> None:
        barrier.wait()
        results.append(notifier(migrated_url, receiver).send(alert()))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
    assert len(receiver.pagerduty) == 1


def test_log_only_mode_sends_nothing_logs_the_alert_and_still_deduplicates(migrated_url, receiver, caplog):
    quiet = notifier(migrated_url)
    assert quiet.mode == "log-only"
    with caplog.at_level(logging.INFO, logger="mono_dagster.notify"):
        assert quiet.send(alert()) is True
        assert quiet.send(alert()) is False
        quiet.resolve("mono.sync.escalated:account:abc")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "via log" in errors[0].getMessage()
    assert any("resolved" in r.getMessage() for r in caplog.records)
    assert receiver.requests == []


def test_oncall_falls_back_to_chat_without_a_routing_key_and_chat_never_pages(migrated_url, receiver):
    assert notifier(migrated_url, receiver, pagerduty=False).send(alert("k1")) is True
    assert len(receiver.slack) == 1 and receiver.pagerduty == []
    assert notifier(migrated_url, receiver, chat=False).send(alert("k2", route="chat", severity="warning")) is True
    assert len(receiver.slack) == 1 and receiver.pagerduty == [], "a warning with no chat webhook is only logged"


def test_no_secret_or_full_account_number_leaves_in_any_payload(migrated_url, receiver):
    leaky = Alert(
        dedup_key="leak",
        severity="critical",
        route="oncall",
        summary="account 0123456789 failed: mono-sec-key: live_sk_abcdef123456",
        details={
            "error": "401 with Authorization: Bearer eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl",
            "sample": ["acct 9876543210 balance", {"bvn": "22212345678"}],
            "key": "test_sk_zzzzzzzz",
        },
    )
    both = notifier(migrated_url, receiver)
    assert both.send(leaky) is True
    assert notifier(migrated_url, receiver, pagerduty=False).send(Alert(**{**leaky.__dict__, "dedup_key": "leak2"}))
    texts = [json.dumps(request.body) for request in receiver.requests]
    assert len(texts) == 2
    for text in texts:
        for secret in ("0123456789", "9876543210", "22212345678", "live_sk_", "test_sk_", "eyJhbGciOi"):
            assert secret not in text
        assert "******6789" in text and "******3210" in text
    with create_db_engine(migrated_url).connect() as conn:
        stored = get_notification(conn, "leak")
    assert stored is not None and "0123456789" not in stored.summary and "test_sk_" not in json.dumps(stored.details)


def test_transient_answers_are_retried_and_a_refusal_leaves_the_key_unsent(migrated_url, receiver):
    sender = notifier(migrated_url, receiver)
    receiver.script.extend([503, 429])
    assert sender.send(alert("retried")) is True
    assert len(receiver.pagerduty) == 3
    receiver.script.append(400)
    with pytest.raises(NotificationDeliveryError) as refused:
        sender.send(alert("refused"))
    assert "HTTP 400" in str(refused.value) and receiver.base_url not in str(refused.value)
    with create_db_engine(migrated_url).connect() as conn:
        assert get_notification(conn, "refused").status == "unsent"
    assert sender.send(alert("refused")) is True, "the next evaluation sends it again"


def test_an_unreachable_endpoint_fails_after_the_attempts_without_naming_the_url(migrated_url):
    dead = NotifierResource(
        database_url=migrated_url,
        slack_webhook_url="http://127.0.0.1:9/services/T0/B0/secret-token",
        max_attempts=2,
        retry_base_delay_seconds=0.01,
        timeout_seconds=2,
    )
    with pytest.raises(NotificationDeliveryError) as failed:
        dead.send(alert(route="chat", severity="warning"))
    assert "after 2 attempt(s)" in str(failed.value) and "secret-token" not in str(failed.value)


def test_the_environment_configures_the_backends_through_env_vars(monkeypatch, sqlite_database_url):
    assert notifier_from_environment({}).mode == "log-only"
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/services/x")
    monkeypatch.setenv("MONO_DAGSTER_DB_URL", sqlite_database_url)
    configured = notifier_from_environment()
    with dg.build_resources({"notifier": configured}) as resources:
        live = resources.notifier
        assert live.mode == "pagerduty+chat"
        assert live.pagerduty_events_url == "https://events.pagerduty.com/v2/enqueue"
        assert live.database_url == sqlite_database_url


def test_an_alert_refuses_an_unknown_route_severity_or_oversized_key():
    with pytest.raises(ValueError, match="route"):
        Alert(dedup_key="k", severity="error", route="email", summary="s", details={})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="severity"):
        Alert(dedup_key="k", severity="fatal", route="chat", summary="s", details={})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dedup_key"):
        Alert(dedup_key="k" * 256, severity="info", route="chat", summary="s", details={})


def test_run_and_correlation_ids_pass_scrubbing_whole(migrated_url, receiver):
    run_id = "29e6f432-043c-4654-8380-8b4653108516"  # ten digits in a row inside a UUID
    assert notifier(migrated_url, receiver).send(
        Alert(
            dedup_key="ids",
            severity="error",
            route="oncall",
            summary=f"run {run_id} failed for 0123456789",
            details={"run_id": run_id, "failed_run_ids": [run_id]},
        )
    )
    payload = receiver.pagerduty[0].body["payload"]
    assert payload["summary"] == f"run {run_id} failed for ******6789"
    assert payload["custom_details"] == {"run_id": run_id, "failed_run_ids": [run_id]}
