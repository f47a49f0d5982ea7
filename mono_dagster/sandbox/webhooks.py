"""Webhook deliveries as Mono sends them (mono_api.md §4), signed either way, for tests and the demo.

`webhook_body` builds an event about a sandbox account in Mono's webhook casing ("camel": `_id`,
`accountNumber`, `bankCode`) or the v2 REST casing ("snake": `id`, `account_number`); `deliver_webhook`
posts it with the `mono-webhook-secret` header carrying the secret itself ("secret", Mono's scheme) or
the HMAC-SHA512 hex digest of the body ("hmac-sha512", the RFC's). `POST /_sandbox/webhooks/deliver`
does the same from another process. Nothing here imports the receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any, Final

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from mono_dagster.sandbox.state import SandboxState, UnknownAccount

EVENT_PREFIX: Final = "mono.events."
EVENTS: Final = (
    "account_connected",
    "account_updated",
    "reauthorisation_required",
    "account_reauthorized",
    "account_unlinked",
)
CASINGS: Final = ("camel", "snake")
SCHEMES: Final = ("secret", "hmac-sha512")
HEADER: Final = "mono-webhook-secret"
DEFAULT_WEBHOOK_SECRET: Final = "whsec_sandbox"  # noqa: S105 - a sandbox value; MONO_WEBHOOK_SECRET overrides it


def event_name(event: str) -> str:
    """`account_updated` and `mono.events.account_updated` both name Mono's event; other names pass as given."""
    return event if "." in event else EVENT_PREFIX + event


def webhook_body(
    state: SandboxState,
    event: str,
    account_id: str,
    *,
    casing: str = "camel",
    data_status: str = "AVAILABLE",
    event_id: str | None = None,
) -> dict[str, Any]:
    if casing not in CASINGS:
        raise ValueError(f"casing must be one of {', '.join(CASINGS)}, not {casing!r}")
    name = event_name(event)
    camel = casing == "camel"
    id_key = "_id" if camel else "id"
    if name == EVENT_PREFIX + "account_connected":
        customer = state.customer(account_id)["id"]
        data: dict[str, Any] = {id_key: account_id, "customer": customer, "meta": {}}
    elif name == EVENT_PREFIX + "account_updated":
        data = {
            "account": _account(state, account_id, camel=camel),
            "meta": {
                "data_status": data_status,
                "auth_method": "internet_banking",
                "retrieved_data": ["balance", "transactions"],
            },
        }
    else:
        data = {"account": {id_key: account_id}}
    body: dict[str, Any] = {"event": name, "data": data}
    if event_id is not None:
        body["event_id"] = event_id
    return body


def _account(state: SandboxState, account_id: str, *, camel: bool) -> dict[str, Any]:
    account = state.account(account_id)
    institution = account["institution"]
    if not camel:
        return {**account, "auth_method": "internet_banking"}
    return {
        "_id": account["id"],
        "name": account["name"],
        "accountNumber": account["account_number"],
        "currency": account["currency"],
        "balance": account["balance"],
        "type": account["type"],
        "bvn": account["bvn"],
        "authMethod": "internet_banking",
        "institution": {"name": institution["name"], "bankCode": institution["bank_code"], "type": institution["type"]},
    }


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def signature(content: bytes, secret: str, scheme: str) -> str:
    """The `mono-webhook-secret` header value under `scheme`."""
    if scheme == "secret":
        return secret
    if scheme == "hmac-sha512":
        return hmac.new(secret.encode("utf-8"), content, hashlib.sha512).hexdigest()
    raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, not {scheme!r}")


def default_secret() -> str:
    return os.environ.get("MONO_WEBHOOK_SECRET") or DEFAULT_WEBHOOK_SECRET


def deliver_webhook(
    url: str,
    body: dict[str, Any],
    *,
    secret: str | None = None,
    scheme: str = "secret",
    client: httpx.Client | None = None,
) -> httpx.Response:
    """POSTs the body to `url`, signed under `scheme`; the receiver's answer is returned as it is."""
    content = encode(body)
    headers = {"content-type": "application/json", HEADER: signature(content, secret or default_secret(), scheme)}
    if client is not None:
        return client.post(url, content=content, headers=headers)
    with httpx.Client(timeout=10.0) as own:
        return own.post(url, content=content, headers=headers)


async def _deliver_endpoint(state: SandboxState, request: Request) -> Response:
    try:
        payload = json.loads(await request.body())
    except ValueError:
        return JSONResponse({"error": "the body must be JSON"}, status_code=400)
    if not isinstance(payload, dict):
        return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
    missing = [name for name in ("url", "event", "account") if not isinstance(payload.get(name), str)]
    if missing:
        return JSONResponse({"error": f"missing string fields: {', '.join(missing)}"}, status_code=400)
    scheme = payload.get("scheme", "secret")
    try:
        body = webhook_body(
            state,
            payload["event"],
            payload["account"],
            casing=payload.get("casing", "camel"),
            data_status=payload.get("data_status", "AVAILABLE"),
            event_id=payload.get("event_id"),
        )
        content = encode(body)
        header = signature(content, payload.get("secret") or default_secret(), scheme)
    except UnknownAccount as exc:
        return JSONResponse({"error": f"unknown account {exc.args[0]}"}, status_code=404)
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            answer = await client.post(
                payload["url"], content=content, headers={"content-type": "application/json", HEADER: header}
            )
    except httpx.HTTPError as exc:
        return JSONResponse({"error": f"delivery failed: {exc.__class__.__name__}"}, status_code=502)
    return JSONResponse({"event": body["event"], "status_code": answer.status_code, "response": answer.text})


def webhook_admin_mount(state: SandboxState) -> Mount:
    """`POST /_sandbox/webhooks/deliver` with {url, event, account, scheme?, casing?, secret?, data_status?,
    event_id?}: builds the event, signs it and posts it; answers with the receiver's status and body."""

    async def deliver(request: Request) -> Response:
        return await _deliver_endpoint(state, request)

    return Mount("/_sandbox/webhooks", routes=[Route("/deliver", deliver, methods=["POST"])])
