"""The receiver's ASGI app: `POST /webhooks/mono`, `GET /healthz`, `GET /metrics`.

A delivery is answered only after it is in the inbox (or found there already): 200 means stored. The
request path never calls Mono; the one database write runs in Starlette's thread pool. Order of checks:
credential header present (401), size (413, from Content-Length and again while streaming), credential
(401), JSON and `event` field (400), store (200, or 500 so that Mono retries).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mono_dagster.observability.metrics_server import metrics_asgi_app
from mono_dagster.storage.webhook_inbox import InboxDelivery, store_delivery
from mono_dagster.webhooks.config import WebhookConfig
from mono_dagster.webhooks.events import MalformedDelivery, ParsedDelivery, parse_delivery
from mono_dagster.webhooks.metrics import observe_delivery
from mono_dagster.webhooks.verify import HEADER, is_authentic

WEBHOOK_PATH = "/webhooks/mono"
log = logging.getLogger(__name__)


class _TooLarge(Exception):
    pass


class _AsgiEndpoint:
    """Serves an ASGI app at exactly one path: Starlette calls a route endpoint that is not a function as
    an ASGI app (a `Mount` would answer `/metrics` with a redirect to `/metrics/`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def build_app(
    config: WebhookConfig, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Starlette:
    """The receiver's routes. `clock` stamps each delivery (and picks its de-duplication hour)."""

    async def receive(request: Request) -> JSONResponse:
        started = time.perf_counter()

        def answer(outcome: str, status_code: int, body: dict[str, str]) -> JSONResponse:
            observe_delivery(outcome, time.perf_counter() - started)
            return JSONResponse(body, status_code=status_code)

        header = request.headers.get(HEADER)
        if not header:
            _warn_unauthorized(request, "no mono-webhook-secret header")
            return answer("unauthorized", 401, {"error": f"missing the {HEADER} header"})
        try:
            body = await _read_body(request, config.max_body_bytes)
        except _TooLarge:
            return answer("too_large", 413, {"error": f"the body is larger than {config.max_body_bytes} bytes"})
        except ValueError as exc:
            return answer("malformed", 400, {"error": str(exc)})
        if not is_authentic(header, body, config.secret, config.schemes):
            _warn_unauthorized(request, "the mono-webhook-secret header does not match")
            return answer("unauthorized", 401, {"error": f"the {HEADER} header is not valid"})
        received_at = clock()
        try:
            parsed = parse_delivery(body, received_at)
        except MalformedDelivery as exc:
            return answer("malformed", 400, {"error": str(exc)})
        try:
            stored = await run_in_threadpool(_store, engine, parsed, received_at)
        except Exception:
            log.exception("could not store a %s delivery in the webhook inbox", parsed.event_name)
            return answer("error", 500, {"error": "the delivery could not be stored; retry later"})
        outcome = "stored" if stored else "duplicate"
        return answer(outcome, 200, {"status": outcome, "delivery_key": parsed.delivery_key})

    async def healthz(_request: Request) -> JSONResponse:
        try:
            await run_in_threadpool(_ping, engine)
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "database": exc.__class__.__name__}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return Starlette(
        routes=[
            Route(WEBHOOK_PATH, receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", _AsgiEndpoint(metrics_asgi_app()), methods=["GET"]),
        ]
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ValueError("the Content-Length header is not a number")
        if int(declared) > limit:
            raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():  # a chunked body has no Content-Length: count as it arrives
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def _store(engine: Engine, parsed: ParsedDelivery, received_at: datetime) -> bool:
    delivery = InboxDelivery(
        delivery_key=parsed.delivery_key,
        event_name=parsed.event_name,
        account_id=parsed.account_id,
        payload=parsed.payload,
        received_at=received_at,
    )
    with engine.begin() as conn:
        return store_delivery(conn, delivery)


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


def _warn_unauthorized(request: Request, reason: str) -> None:
    client = request.client.host if request.client else "unknown"
    log.warning("rejected a webhook delivery from %s: %s", client, reason)
