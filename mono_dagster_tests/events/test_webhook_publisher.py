"""The webhook publisher against a local capture server: signed bodies, event ids, failures kept for retry."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from mono_dagster.events.publishers import WebhookPublisher
from mono_dagster.events.relay import OutboxRelay
from mono_dagster.storage.tables import pipeline_events
from mono_dagster_tests.events.conftest import append_interleaved

SECRET = "whsec-test-0123456789"


class CaptureServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), CaptureHandler)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []  # answers to give, in order; 200 once they run out

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/events"


class CaptureHandler(BaseHTTPRequestHandler):
    server: CaptureServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.requests.append(({key.lower(): value for key, value in self.headers.items()}, body))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture()
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_webhook_events_are_signed_with_hmac_sha256_of_the_body_and_carry_the_event_id(engine, capture):
    events = append_interleaved(engine, per_account=2)
    publisher = WebhookPublisher(capture.url, SECRET)
    summary = OutboxRelay(engine, publisher).run_once(max_events=100)
    publisher.close()

    assert summary.delivered == len(events) == len(capture.requests)
    for (headers, body), event in zip(capture.requests, events, strict=True):
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-taxpoynt-signature"], expected)
        assert headers["x-taxpoynt-event-id"] == json.loads(body)["event_id"] == event.event_id
        assert headers["content-type"] == "application/json"
    forged = "sha256=" + hmac.new(b"another secret", capture.requests[0][1], hashlib.sha256).hexdigest()
    assert forged != capture.requests[0][0]["x-taxpoynt-signature"]


def test_a_webhook_error_keeps_the_event_and_the_retry_sends_it_first(engine, capture):
    events = append_interleaved(engine, per_account=1)
    capture.statuses = [200, 503, 500]
    publisher = WebhookPublisher(capture.url, SECRET)
    relay = OutboxRelay(engine, publisher, max_backoff_seconds=0.05)
    summary = relay.run_once(max_events=100, attempts=3)
    publisher.close()

    assert (summary.delivered, summary.backlog, summary.failures) == (3, 0, 2)
    sent = [json.loads(body)["event_id"] for _headers, body in capture.requests]
    ids = [event.event_id for event in events]
    assert sent == [ids[0], ids[1], ids[1], ids[1], ids[2]]  # the refused event is retried before the next
    with engine.connect() as conn:
        attempts = conn.execute(sa.select(pipeline_events.c.delivery_attempts).order_by(pipeline_events.c.id))
        assert list(attempts.scalars()) == [1, 3, 1]


def test_the_webhook_publisher_needs_a_url_and_a_secret():
    with pytest.raises(ValueError, match="MONO_EVENTS_WEBHOOK_SECRET"):
        WebhookPublisher("http://127.0.0.1:9/events", "")
    with pytest.raises(ValueError, match="MONO_EVENTS_WEBHOOK_URL"):
        WebhookPublisher("", SECRET)
