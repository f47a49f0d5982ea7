"""The `/_sandbox/...` admin endpoints: how tests in another process inspect and steer the sandbox.

No auth, never faulted, never in the request log. Bodies are plain JSON (not Mono's shapes); a bad
body is a 400 and an unknown account or transaction a 404, both as `{"error": "..."}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from mono_dagster.sandbox.faults import FaultPlan
from mono_dagster.sandbox.state import SandboxState, UnknownAccount, UnknownTransaction

AdminHandler = Callable[[SandboxState, Request, Any], Response]


def _error(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code)


def admin(state: SandboxState, handler: AdminHandler, *, body: bool = False) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        payload: Any = None
        if body:
            try:
                payload = json.loads(await request.body())
            except ValueError:
                return _error(400, "the body must be JSON")
            if not isinstance(payload, dict):
                return _error(400, "the body must be a JSON object")
        try:
            return handler(state, request, payload)
        except UnknownAccount as exc:
            return _error(404, f"unknown account {exc.args[0]}")
        except UnknownTransaction as exc:
            return _error(404, f"unknown transaction {exc.args[0]}")
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))

    return endpoint


def get_state(state: SandboxState, request: Request, _: None) -> Response:
    return JSONResponse(state.summary())


def put_faults(state: SandboxState, request: Request, payload: dict[str, Any]) -> Response:
    state.set_fault_plan(FaultPlan.from_dict(payload))
    return JSONResponse(state.fault_plan.to_dict())


def put_secret(state: SandboxState, request: Request, payload: dict[str, Any]) -> Response:
    key = payload.get("secret_key")
    if not isinstance(key, str) or not key:
        raise ValueError("secret_key must be a non-empty string")
    state.set_secret_key(key)
    return Response(status_code=204)


def add_transaction(state: SandboxState, request: Request, payload: dict[str, Any]) -> Response:
    missing = [name for name in ("date", "amount", "type", "narration") if name not in payload]
    if missing:
        raise ValueError(f"missing fields: {', '.join(missing)}")
    unknown = sorted(set(payload) - {"date", "amount", "type", "narration", "category"})
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    if not isinstance(payload["date"], str):
        raise ValueError("date must be an ISO-8601 string")
    created = state.add_transaction(request.path_params["account_id"], **payload)
    return JSONResponse(created, status_code=201)


def update_transaction(state: SandboxState, request: Request, payload: dict[str, Any]) -> Response:
    params = request.path_params
    return JSONResponse(state.update_transaction(params["account_id"], params["txn_id"], **payload))


def remove_transaction(state: SandboxState, request: Request, _: None) -> Response:
    state.remove_transaction(request.path_params["account_id"], request.path_params["txn_id"])
    return Response(status_code=204)


def get_requests(state: SandboxState, request: Request, _: None) -> Response:
    prefix = request.query_params.get("path_prefix", "/")
    with state.lock:
        records = [asdict(record) for record in state.request_log if record.path.startswith(prefix)]
    return JSONResponse({"count": len(records), "requests": records})


def clear_requests(state: SandboxState, request: Request, _: None) -> Response:
    state.reset_request_log()
    return Response(status_code=204)


def reset(state: SandboxState, request: Request, _: None) -> Response:
    state.reset()
    return JSONResponse(state.summary())


def admin_mount(state: SandboxState) -> Mount:
    txn = "/accounts/{account_id}/transactions"
    return Mount(
        "/_sandbox",
        routes=[
            Route("/state", admin(state, get_state), methods=["GET"]),
            Route("/faults", admin(state, put_faults, body=True), methods=["PUT"]),
            Route("/secret", admin(state, put_secret, body=True), methods=["PUT"]),
            Route(txn, admin(state, add_transaction, body=True), methods=["POST"]),
            Route(txn + "/{txn_id}", admin(state, update_transaction, body=True), methods=["PATCH"]),
            Route(txn + "/{txn_id}", admin(state, remove_transaction), methods=["DELETE"]),
            Route("/requests", admin(state, get_requests), methods=["GET"]),
            Route("/requests", admin(state, clear_requests), methods=["DELETE"]),
            Route("/reset", admin(state, reset), methods=["POST"]),
        ],
    )
