"""Reads Mono's three transaction response shapes into one `MonoPage` (mono_api.md §1.4).

- v2:     {"data": [...] | null, "meta": {"total", "page", "previous", "next"} | null}
- v1:     {"data": {"paging": {...}, "transactions": [...]}}
- legacy: {"paging": {...}, "data": [{"_id": ...}, ...]}

Only the page NUMBER is taken from `next`: Mono's `next` links drop the date filters and sometimes the
`accounts/` segment, so the client rebuilds every URL itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from mono_dagster.records import RAW_TRANSACTION_FIELDS

Shape = Literal["v2", "v1", "legacy"]


class UnparseableBody(ValueError):
    """The body is not JSON (a truncated answer, an HTML error page): worth a retry."""


class UnknownShape(ValueError):
    """The body is JSON but none of Mono's shapes: retrying will not help."""


@dataclass(frozen=True)
class MonoPage:
    shape: Shape
    transactions: list[dict[str, Any]]
    total: int | None
    page: int | None
    has_next: bool
    next_page: int | None  # the page number in `next`, when it has one
    body: str


def transaction_id(transaction: dict[str, Any]) -> str | None:
    """Mono's id: `id` in v1/v2, `_id` in the legacy shape."""
    value = transaction.get("id") or transaction.get("_id")
    return str(value) if value not in (None, "") else None


def content_key(transaction: Mapping[str, Any]) -> str:
    """What two copies of one Mono id must share to be the same transaction: every field but the id.

    The fields are the ones the transform reads (`records.RAW_TRANSACTION_FIELDS`), compared as JSON
    values as sent: ``500`` and ``"500"`` differ, a missing field equals null. The transform keys its
    duplicates by this too, so the client's counts and the stored rows agree.
    """
    values = [transaction.get(name) for name in RAW_TRANSACTION_FIELDS if name != "id"]
    return json.dumps(values, default=repr, allow_nan=True)


def page_number_of(link: Any) -> int | None:
    if not isinstance(link, str) or not link:
        return None
    values = parse_qs(urlsplit(link).query).get("page")
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError:
        return None


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def decode_json(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise UnparseableBody(f"response body is not valid JSON ({len(body)} bytes): {exc.msg}") from None


def parse_transactions_page(body: str) -> MonoPage:
    document = decode_json(body)
    if not isinstance(document, dict):
        raise UnknownShape(f"expected a JSON object, got {type(document).__name__}")
    data = document.get("data")
    if isinstance(document.get("paging"), dict) and (isinstance(data, list) or data is None):
        return _page("legacy", data or [], document["paging"], body)
    if isinstance(data, dict) and "transactions" in data:
        paging = data.get("paging") if isinstance(data.get("paging"), dict) else {}
        return _page("v1", data.get("transactions") or [], paging, body)
    if isinstance(data, list) or (data is None and "meta" in document):
        meta = document.get("meta") if isinstance(document.get("meta"), dict) else {}
        return _page("v2", data or [], meta, body)
    raise UnknownShape(f"not a Mono transactions shape (keys: {sorted(document)[:6]})")


def _page(shape: Shape, transactions: list[Any], paging: dict[str, Any], body: str) -> MonoPage:
    if not all(isinstance(item, dict) for item in transactions):
        raise UnknownShape(f"{shape} page holds a transaction that is not an object")
    next_link = paging.get("next")
    return MonoPage(
        shape=shape,
        transactions=transactions,
        total=_as_int(paging.get("total")),
        page=_as_int(paging.get("page")),
        has_next=bool(next_link),
        next_page=page_number_of(next_link),
        body=body,
    )


def parse_list_page(body: str) -> tuple[list[dict[str, Any]], MonoPage]:
    """`GET /v2/accounts` pages like transactions: `data` array plus `meta`."""
    page = parse_transactions_page(body)
    return page.transactions, page


def mono_message(body: str) -> str | None:
    """Mono's `message` from an error body, if it has one (bodies are not always JSON)."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        return document["message"][:300]
    return None
