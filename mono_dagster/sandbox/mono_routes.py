"""The Mono API endpoints, each behind the same gate: request log, fault, `mono-sec-key` check.

Order inside the gate: the request is logged and its fault picked; a status fault answers at once
(as a gateway would, before auth); "slow" waits, then the request is served normally; "truncated"
serves normally and cuts the body in half (keeping the status, with a matching Content-Length).
"""

from __future__ import annotations

import asyncio
import email.utils
import hmac
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mono_dagster.sandbox import shapes
from mono_dagster.sandbox.bad_rows import served_rows
from mono_dagster.sandbox.faults import FaultPlan
from mono_dagster.sandbox.paging import slice_page
from mono_dagster.sandbox.query import BadParameter, parse_paging, parse_transactions_query
from mono_dagster.sandbox.state import SandboxState, UnknownAccount

Handler = Callable[[SandboxState, Request], Response]
JSON = "application/json"
_FAULT_MESSAGES = {
    429: "Too many requests, please try again later.",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable, please try again later.",
}


def mono_json(body: bytes, status_code: int = 200) -> Response:
    return Response(body, status_code=status_code, media_type=JSON)


def failed(status_code: int, message: str) -> Response:
    return mono_json(shapes.failed_body(message), status_code)


def base_url_of(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def fault_response(kind: str, plan: FaultPlan) -> Response | None:
    """The answer a status fault gives instead of serving; None for "slow" and "truncated"."""
    if kind in ("slow", "truncated"):
        return None
    status = int(kind[:3])
    response = failed(status, _FAULT_MESSAGES.get(status) or HTTPStatus(status).phrase)
    if kind == "429_retry_after":
        response.headers["Retry-After"] = str(plan.retry_after_seconds)
    elif kind == "429_retry_after_date":
        # formatdate drops the fraction, so the date is at most retry_after_seconds ahead.
        response.headers["Retry-After"] = email.utils.formatdate(time.time() + plan.retry_after_seconds, usegmt=True)
    return response


def truncated(response: Response) -> Response:
    body = bytes(response.body)
    return Response(body[: len(body) // 2], status_code=response.status_code, media_type=JSON)


def gate(state: SandboxState, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        record = state.record_request(request.method, request.url.path, dict(request.query_params))
        plan = state.fault_plan
        try:
            response = fault_response(record.fault, plan) if record.fault else None
            if response is None:
                if record.fault == "slow":
                    await asyncio.sleep(plan.slow_seconds)
                response = _authorised(state, request, handler)
                if record.fault == "truncated":
                    response = truncated(response)
        except Exception:
            record.status = 500  # what Starlette answers when a handler raises
            raise
        record.status = response.status_code
        return response

    return endpoint


def _authorised(state: SandboxState, request: Request, handler: Handler) -> Response:
    given = request.headers.get("mono-sec-key", "")
    if not hmac.compare_digest(given.encode(), state.secret_key.encode()):
        return failed(401, "Unauthorized request.")
    try:
        return handler(state, request)
    except UnknownAccount:
        return failed(404, "Account not found")
    except BadParameter as exc:
        return failed(400, str(exc))


def list_accounts(state: SandboxState, request: Request) -> Response:
    page_number, limit = parse_paging(request.query_params)
    with state.lock:
        summaries = [shapes.account_summary(state.account(i), state.customer(i)) for i in state.account_ids()]
    page = slice_page(summaries, page=page_number, limit=limit, paginate=True)
    return mono_json(shapes.accounts_body(base_url_of(request), page))


def account_details(state: SandboxState, request: Request) -> Response:
    account_id = request.path_params["account_id"]
    with state.lock:
        account = state.account(account_id)
        customer_id = state.customer(account_id)["id"]
    return mono_json(shapes.account_body(account, customer_id))


def transactions(shape: str | None) -> Handler:
    """The transactions endpoint in a fixed shape, or (None) the plan's or config's shape."""

    def handler(state: SandboxState, request: Request) -> Response:
        account_id = request.path_params["account_id"]
        with state.lock:
            ledger = state.ledger(account_id)  # an unknown account is a 404 before any 400
            query = parse_transactions_query(request.query_params)
            plan = state.fault_plan
            rows = ledger.between(query.start, query.end)
            if query.type or query.narration:
                needle = (query.narration or "").lower()
                rows = [
                    row
                    for row in rows
                    if (not query.type or row["type"] == query.type) and needle in row["narration"].lower()
                ]
            rows.reverse()  # newest first; `between` returned a fresh slice
            if plan.malformed or plan.served_as:
                rows = served_rows(rows, plan.row_variants(), lambda txn: ledger.get(txn) if txn in ledger else None)
            page = slice_page(
                rows,
                page=query.page,
                limit=query.limit,
                paginate=query.paginate,
                duplicate_across_pages=plan.duplicate_across_pages,
            )
            body = shapes.transactions_body(
                shape or plan.shape or state.config.shape,
                base_url=base_url_of(request),
                account_id=account_id,
                page=page,
            )
            if query.paginate and query.page == 1 and page.has_next:
                arrivals = state.take_paging_insert()
                if arrivals:
                    state.add_arrivals(
                        account_id,
                        arrivals,
                        start=query.start,
                        end=query.end,
                        type_filter=query.type,
                        narration_filter=query.narration,
                    )
        return mono_json(body)

    return handler


def not_found(state: SandboxState, request: Request) -> Response:
    return failed(404, f"Cannot {request.method} {request.url.path}")


def mono_routes(state: SandboxState) -> list[Route]:
    def route(path: str, handler: Handler, methods: list[str] | None = None) -> Route:
        return Route(path, gate(state, handler), methods=methods)

    return [
        route("/v2/accounts", list_accounts, ["GET"]),
        route("/v2/accounts/{account_id}", account_details, ["GET"]),
        route("/v2/accounts/{account_id}/transactions", transactions(None), ["GET"]),
        route("/v1/accounts/{account_id}/transactions", transactions("v1"), ["GET"]),
        route("/accounts/{account_id}/transactions", transactions("legacy"), ["GET"]),
        route("/{path:path}", not_found),  # any other path or method, still behind the gate
    ]
