"""The receiver over real HTTP: verification, replay, size limits, malformed bodies, casings, health and
metrics, on SQLite and Postgres. A rejected delivery never reaches the inbox."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client import REGISTRY

from mono_dagster.storage.engine import create_db_engine
from mono_dagster.webhooks.app import build_app
from mono_dagster.webhooks.config import WebhookConfig
from mono_dagster.webhooks.server import WebhookServer
from mono_dagster.webhooks.verify import hmac_sha512_hex
from mono_dagster_tests.webhooks.conftest import SECRET, running_receiver

ACCOUNT = "65a1f0c2b3d4e5f6a7b8c9d0"
BODY = json.dumps(
    {
        "event": "mono.events.account_updated",
        "data": {"account": {"_id": ACCOUNT}, "meta": {"data_status": "AVAILABLE"}},
    }
).encode()


def post(http: httpx.Client, server: WebhookServer, body: bytes, header: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["mono-webhook-secret"] = header
    return http.post(server.webhook_url, content=body, headers=headers)


def deliveries(outcome: str) -> float:
    labels = {"provider": "mono", "outcome": outcome}
    return REGISTRY.get_sample_value("taxpoynt_mono_webhook_deliveries_total", labels) or 0.0


def off_by_one(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


CREDENTIALS = [
    ("no header", None, 401),
    ("wrong secret", "not-the-secret", 401),
    ("hmac of a different body", hmac_sha512_hex(BODY + b"\n", SECRET.encode()), 401),
    ("secret off by one character", off_by_one(SECRET), 401),
    ("hmac under a secret off by one", hmac_sha512_hex(BODY, off_by_one(SECRET).encode()), 401),
    ("the secret (Mono's scheme)", SECRET, 200),
    ("hmac of the body (RFC scheme)", hmac_sha512_hex(BODY, SECRET.encode()), 200),
]


def test_only_a_valid_credential_reaches_the_inbox(receiver, http, inbox):
    for case, header, status in CREDENTIALS:
        answer = post(http, receiver, BODY, header)
        assert answer.status_code == status, (case, answer.text)
        if status == 401:
            assert "mono-webhook-secret" in answer.json()["error"], case
            assert inbox() == [], f"{case}: a rejected delivery reached the inbox"
    assert len(inbox()) == 1  # both valid deliveries are the same delivery


def test_a_scheme_that_is_switched_off_is_refused(inbox_url, http, inbox):
    with running_receiver(inbox_url, schemes=frozenset({"hmac-sha512"})) as server:
        assert post(http, server, BODY, SECRET).status_code == 401
        assert inbox() == []
        assert post(http, server, BODY, hmac_sha512_hex(BODY, SECRET.encode())).status_code == 200
    with running_receiver(inbox_url, schemes=frozenset({"secret"})) as server:
        other = BODY.replace(b"AVAILABLE", b"PARTIAL")
        assert post(http, server, other, hmac_sha512_hex(other, SECRET.encode())).status_code == 401
    assert len(inbox()) == 1


def test_the_same_delivery_twice_is_stored_once(receiver, http, inbox):
    first = post(http, receiver, BODY, SECRET)
    again = post(http, receiver, BODY, hmac_sha512_hex(BODY, SECRET.encode()))
    assert (first.status_code, again.status_code) == (200, 200)
    assert (first.json()["status"], again.json()["status"]) == ("stored", "duplicate")
    assert first.json()["delivery_key"] == again.json()["delivery_key"]
    rows = inbox()
    assert len(rows) == 1
    assert rows[0]["delivery_key"].startswith("sha256:")
    assert rows[0]["event_name"] == "mono.events.account_updated" and rows[0]["account_id"] == ACCOUNT


def test_the_same_bytes_in_a_later_hour_are_a_new_event_not_a_duplicate(inbox_url, http, inbox):
    """Mono's account events carry no event id: a second reauthorisation cycle repeats the bytes exactly."""
    first_hour = datetime(2026, 11, 29, 9, 15, tzinfo=UTC)
    with running_receiver(inbox_url, received_at=first_hour) as server:
        assert post(http, server, BODY, SECRET).json()["status"] == "stored"
    with running_receiver(inbox_url, received_at=first_hour + timedelta(minutes=40)) as server:
        assert post(http, server, BODY, SECRET).json()["status"] == "duplicate", "a retry within the hour"
    with running_receiver(inbox_url, received_at=first_hour + timedelta(hours=1)) as server:
        assert post(http, server, BODY, SECRET).json()["status"] == "stored", "the same event, later"
    assert len(inbox()) == 2


def test_an_event_id_makes_the_delivery_key_even_when_the_bytes_differ(receiver, http, inbox):
    for data_status in ("AVAILABLE", "PARTIAL"):
        body = json.dumps(
            {"event_id": "evt_123", "event": "mono.events.account_updated", "data": {"account": {"_id": ACCOUNT}}}
            | {"meta": {"data_status": data_status}}
        ).encode()
        assert post(http, receiver, body, SECRET).status_code == 200
    assert [row["delivery_key"] for row in inbox()] == ["event:evt_123"]


def test_a_body_over_the_limit_is_refused_by_content_length_and_while_streaming(inbox_url, http, inbox):
    with running_receiver(inbox_url, max_body_bytes=2048) as server:
        padding = "x" * 3000
        big = json.dumps({"event": "mono.events.account_updated", "data": {"pad": padding}}).encode()
        declared = post(http, server, big, SECRET)
        assert declared.status_code == 413 and "2048 bytes" in declared.json()["error"]

        def chunks():
            for start in range(0, len(big), 500):
                yield big[start : start + 500]

        streamed = http.post(
            server.webhook_url, content=chunks(), headers={"mono-webhook-secret": SECRET}
        )  # chunked: no Content-Length
        assert streamed.status_code == 413
        fits = json.dumps({"event": "mono.events.account_updated", "data": {"pad": "x" * 1900}}).encode()
        assert len(fits) <= 2048
        assert post(http, server, fits, SECRET).status_code == 200
    assert len(inbox()) == 1


MALFORMED = [
    ("not json", b"{not json", "not valid JSON"),
    ("not text", b"\xff\xfe\x00garbage", "not valid JSON"),
    ("an array", b"[1, 2]", "JSON object"),
    ("nested too deeply", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("no event", b'{"data": {"id": "abc"}}', "`event`"),
    ("empty event", b'{"event": "", "data": {}}', "`event`"),
    ("event not a string", b'{"event": 42, "data": {}}', "`event`"),
    (
        "account id too long",
        b'{"event": "mono.events.account_updated", "data": {"account": {"_id": "' + b"a" * 65 + b'"}}}',
        "longer than 64",
    ),
]


def test_a_malformed_body_is_a_400_with_a_clear_message(receiver, http, inbox):
    for case, body, message in MALFORMED:
        answer = post(http, receiver, body, SECRET)
        assert answer.status_code == 400, case
        assert message in answer.json()["error"], case
    assert inbox() == []


def test_a_malformed_body_without_a_valid_credential_is_a_401(receiver, http, inbox):
    assert post(http, receiver, b"{not json", "wrong").status_code == 401
    assert inbox() == []


def test_both_casings_name_the_account_and_account_numbers_are_masked(receiver, http, inbox):
    camel = {
        "event": "mono.events.account_updated",
        "data": {
            "account": {"_id": "camel0000000000000000001", "accountNumber": "0131883461", "bvn": "22123456789"},
            "meta": {"data_status": "AVAILABLE"},
        },
    }
    snake = {
        "event": "mono.events.account_unlinked",
        "data": {"account": {"id": "snake0000000000000000002", "account_number": "0123456789"}},
    }
    connected = {"event": "mono.events.account_connected", "data": {"id": "conn00000000000000000003", "meta": {}}}
    for body in (camel, snake, connected):
        assert post(http, receiver, json.dumps(body).encode(), SECRET).status_code == 200
    rows = inbox()
    assert [row["account_id"] for row in rows] == [
        "camel0000000000000000001",
        "snake0000000000000000002",
        "conn00000000000000000003",
    ]
    assert "0131883461" not in rows[0]["payload"] and "22123456789" not in rows[0]["payload"]
    assert json.loads(rows[0]["payload"])["data"]["account"]["accountNumber"] == "******3461"
    assert json.loads(rows[1]["payload"])["data"]["account"]["account_number"] == "******6789"


def test_rejections_are_logged_without_the_presented_credential(receiver, http, caplog):
    presented = "whsec_guess_that_must_not_be_logged"
    with caplog.at_level(logging.DEBUG):
        post(http, receiver, BODY, presented)
        post(http, receiver, BODY, SECRET)
    assert "rejected a webhook delivery" in caplog.text
    assert presented not in caplog.text and SECRET not in caplog.text


def test_metrics_count_deliveries_by_outcome_and_are_served(receiver, http):
    before = {outcome: deliveries(outcome) for outcome in ("stored", "duplicate", "unauthorized", "malformed")}
    post(http, receiver, BODY, SECRET)
    post(http, receiver, BODY, SECRET)
    post(http, receiver, BODY, None)
    post(http, receiver, b"{", SECRET)
    after = {outcome: deliveries(outcome) for outcome in before}
    assert {outcome: after[outcome] - before[outcome] for outcome in before} == {
        "stored": 1,
        "duplicate": 1,
        "unauthorized": 1,
        "malformed": 1,
    }
    scraped = http.get(receiver.base_url + "/metrics")
    assert scraped.status_code == 200
    assert 'taxpoynt_mono_webhook_deliveries_total{outcome="stored",provider="mono"}' in scraped.text


def test_healthz_checks_the_database(receiver, http):
    assert http.get(receiver.base_url + "/healthz").json() == {"status": "ok", "database": "ok"}
    config = WebhookConfig(secret=SECRET.encode(), schemes=frozenset({"secret"}), max_body_bytes=4096)
    unreachable = create_db_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2")
    with WebhookServer(build_app(config, unreachable)) as server:
        answer = http.get(server.base_url + "/healthz")
        assert answer.status_code == 503 and answer.json()["status"] == "unavailable"
        # A delivery that cannot be stored is a 500, so Mono retries it.
        assert post(http, server, BODY, SECRET).status_code == 500
