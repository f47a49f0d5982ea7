"""The HTTP webhook publisher: POSTs the event's JSON, signed with HMAC-SHA256 of the exact body bytes.

A 2xx response is the receiver's acknowledgement; anything else (or no answer) is a `PublishError`,
so the relay keeps the event and tries again. Receivers verify `x-taxpoynt-signature: sha256=<hex>`
over the raw body with the shared secret and de-duplicate on `x-taxpoynt-event-id`.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

import httpx

from mono_dagster.events.message import CONTENT_TYPE, EventMessage
from mono_dagster.events.publishers.base import PublishError

SIGNATURE_HEADER: Final = "x-taxpoynt-signature"


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookPublisher:
    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout_seconds: float = 10.0) -> None:
        if not url:
            raise ValueError("MONO_EVENTS_WEBHOOK_URL is not set (needed by MONO_EVENTS_PUBLISHER=webhook)")
        if not secret:
            raise ValueError("MONO_EVENTS_WEBHOOK_SECRET is not set (webhook events are always signed)")
        self._url = url
        self._secret = secret
        self._client = httpx.Client(timeout=timeout_seconds)

    def publish(self, message: EventMessage) -> None:
        headers = {
            "content-type": CONTENT_TYPE,
            SIGNATURE_HEADER: sign(message.body, self._secret),
            **message.headers,
        }
        try:
            response = self._client.post(self._url, content=message.body, headers=headers)
        except httpx.HTTPError as exc:
            raise PublishError(f"webhook unreachable: {exc.__class__.__name__}") from exc
        if not response.is_success:
            raise PublishError(f"webhook answered HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()
