"""Renders Mono's JSON bodies: the three transaction shapes, accounts, and the failed-request body.

Shapes follow mono_api.md §1.4 and §2.1 exactly, quirks included: v2 `next`/`previous` links drop the
`accounts/` segment and every filter, and an empty v2 window is `data: null, meta: null`. Bodies are
compact JSON bytes; only the rows of the requested page are serialised.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from mono_dagster.sandbox.paging import PageSlice

EMPTY_WINDOW_MESSAGE = "No transactions found for the provided date filter, please try again with different date"


def timestamp() -> str:
    now = dt.datetime.now(dt.UTC)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"


def dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def failed_body(message: str) -> bytes:
    return dumps({"status": "failed", "message": message, "timestamp": timestamp(), "data": None})


# Field order of each older shape's objects; v2 rows are served as stored.
_V1_FIELDS = ("id", "type", "amount", "narration", "date", "balance", "currency")
_LEGACY_FIELDS = ("id", "type", "amount", "narration", "date", "balance", "currency", "category")


def _shaped(row: dict[str, Any], fields: tuple[str, ...], *, id_field: str = "id") -> dict[str, Any]:
    """A stored (or bad-row variant) v2 row in an older shape: the shape's fields the row has, in order.

    A field a variant dropped stays absent; ``currency`` is NGN unless the row sets one.
    """
    values = {"currency": "NGN", **row}
    return {(id_field if name == "id" else name): values[name] for name in fields if name in values}


def _links(page: PageSlice, link: str) -> tuple[str | None, str | None]:
    previous = f"{link}?page={page.page - 1}" if page.has_previous else None
    return previous, (f"{link}?page={page.page + 1}" if page.has_next else None)


def transactions_body(shape: str, *, base_url: str, account_id: str, page: PageSlice) -> bytes:
    if shape == "v2":
        return _v2_transactions(base_url, account_id, page)
    # v1 and legacy link to the unversioned path, as their documented examples do.
    previous, following = _links(page, f"{base_url}/accounts/{account_id}/transactions")
    if shape == "v1":
        rows = [_shaped(row, _V1_FIELDS) for row in page.rows]
        paging = {"page": page.page, "total": page.total, "previous": previous, "next": following}
        return dumps(
            {
                "status": "successful",
                "message": "Successfully fetched transactions",
                "data": {"paging": paging, "transactions": rows},
            }
        )
    if shape == "legacy":
        rows = [_shaped(row, _LEGACY_FIELDS, id_field="_id") for row in page.rows]
        paging = {"total": page.total, "page": page.page, "previous": previous, "next": following}
        return dumps({"paging": paging, "data": rows})
    raise ValueError(f"unknown response shape {shape!r}")


def _v2_transactions(base_url: str, account_id: str, page: PageSlice) -> bytes:
    if page.total == 0:
        return dumps({"status": "successful", "message": EMPTY_WINDOW_MESSAGE, "data": None, "meta": None})
    # Mono's documented links: no `accounts/` segment, no filters, only the page number.
    previous, following = _links(page, f"{base_url}/v2/{account_id}/transactions")
    return dumps(
        {
            "status": "successful",
            "message": "Transaction retrieved successfully",
            "timestamp": timestamp(),
            "data": page.rows,
            "meta": {"total": page.total, "page": page.page, "previous": previous, "next": following},
        }
    )


def account_summary(account: dict[str, Any], customer: dict[str, Any]) -> dict[str, Any]:
    """One entry of `GET /v2/accounts`."""
    return {
        **account,
        "auth_method": "internet_banking",
        "status": "AVAILABLE",
        "institution": {"id": account["institution"]["bank_code"], **account["institution"]},
        "customer": customer,
    }


def accounts_body(base_url: str, page: PageSlice) -> bytes:
    previous, following = _links(page, f"{base_url}/v2/accounts")
    return dumps(
        {
            "status": "successful",
            "message": "Accounts retrieved successfully",
            "timestamp": timestamp(),
            "data": page.rows,
            "meta": {"total": page.total, "page": page.page, "previous": previous, "next": following},
        }
    )


def account_body(account: dict[str, Any], customer_id: str) -> bytes:
    return dumps(
        {
            "status": "successful",
            "message": "Request was succesfully completed",  # sic: Mono's spelling
            "timestamp": timestamp(),
            "data": {
                "account": account,
                "customer": {"id": customer_id},
                "meta": {
                    "data_status": "AVAILABLE",
                    "auth_method": "internet_banking",
                    "retrieved_data": ["balance", "transactions"],
                },
            },
        }
    )
