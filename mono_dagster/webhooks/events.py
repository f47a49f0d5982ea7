"""Reading a Mono webhook body: its event name, the account it is about, its delivery key.

Mono posts `{"event": "mono.events.<name>", "data": {...}}`. The account id sits in different places by
event and API generation (mono_api.md §4): `data.account._id` (webhooks, camelCase), `data.account.id`
(snake_case, account_unlinked), `data.id` (account_connected), or `data.account` as a bare id. Account
numbers and BVNs are masked before the body is stored; ids are left alone (they are hex, and masking
every long digit run would corrupt the few that contain one).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from mono_dagster.storage.accounts import mask_account_number

EVENT_PREFIX: Final = "mono.events."
ACCOUNT_CONNECTED: Final = "mono.events.account_connected"
ACCOUNT_UPDATED: Final = "mono.events.account_updated"
REAUTHORISATION_REQUIRED: Final = "mono.events.reauthorisation_required"
ACCOUNT_REAUTHORIZED: Final = "mono.events.account_reauthorized"
ACCOUNT_UNLINKED: Final = "mono.events.account_unlinked"

MAX_EVENT_NAME: Final = 128
MAX_ACCOUNT_ID: Final = 64
MAX_EVENT_ID: Final = 100
# Identical bodies received within the same UTC hour are one delivery (Mono's retries); see delivery_key.
DEDUP_WINDOW: Final = "%Y-%m-%dT%H"
_SENSITIVE_KEYS: Final = frozenset({"accountnumber", "bvn"})
_KEY_NORMALISER = re.compile(r"[^a-z]")


class MalformedDelivery(ValueError):
    """The body is not a Mono webhook; the message says what is wrong (the receiver answers 400 with it)."""


@dataclass(frozen=True)
class ParsedDelivery:
    delivery_key: str
    event_name: str
    account_id: str | None
    document: dict[str, Any]  # masked

    @property
    def payload(self) -> str:
        return json.dumps(self.document, separators=(",", ":"))


def parse_delivery(body: bytes, received_at: datetime | None = None) -> ParsedDelivery:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedDelivery(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise MalformedDelivery("the body is not valid JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise MalformedDelivery("the body must be a JSON object with an `event` field")
    event = document.get("event")
    if not isinstance(event, str) or not event.strip():
        raise MalformedDelivery("the body has no `event` field (a non-empty string, e.g. mono.events.account_updated)")
    event = event.strip()
    if len(event) > MAX_EVENT_NAME:
        raise MalformedDelivery(f"the `event` field is longer than {MAX_EVENT_NAME} characters")
    account_id = account_id_of(document.get("data"))
    if account_id is not None and len(account_id) > MAX_ACCOUNT_ID:
        raise MalformedDelivery(f"the account id is longer than {MAX_ACCOUNT_ID} characters")
    key = delivery_key(document, body, received_at or datetime.now(UTC))
    return ParsedDelivery(key, event, account_id, mask_sensitive(document))


def account_id_of(data: Any) -> str | None:
    """The account a webhook's `data` is about, in either casing; None when it names none."""
    if not isinstance(data, dict):
        return None
    account = data.get("account")
    if isinstance(account, dict):
        found = account.get("_id") or account.get("id")
    elif isinstance(account, str):
        found = account
    else:
        found = data.get("_id") or data.get("id") or data.get("accountId") or data.get("account_id")
    if isinstance(found, str | int) and not isinstance(found, bool) and str(found).strip():
        return str(found).strip()
    return None


def delivery_key(document: dict[str, Any], body: bytes, received_at: datetime) -> str:
    """Mono's event id when the body carries one, else the sha256 of the raw body within its UTC hour.

    Mono documents no event id (a community SDK mentions `event_id`), and its account events carry only
    the account id: a later `reauthorisation_required` of the same account has the very same bytes as
    the last one. So the body hash de-duplicates Mono's retries within the hour the delivery arrived in
    (`DEDUP_WINDOW`), not forever. A retry that crosses the hour is stored twice, which is safe (every
    action is idempotent: registering, pausing, resuming, a resync, a page with a stable key); a new
    event dropped as a duplicate would not be.
    """
    event_id = document.get("event_id") or document.get("eventId")
    if isinstance(event_id, str | int) and not isinstance(event_id, bool) and str(event_id).strip():
        text = str(event_id).strip()
        if len(text) <= MAX_EVENT_ID:
            return f"event:{text}"
        return f"event-sha256:{hashlib.sha256(text.encode()).hexdigest()}"
    window = received_at.astimezone(UTC).strftime(DEDUP_WINDOW)
    return f"sha256:{hashlib.sha256(body).hexdigest()}:{window}"


def mask_sensitive(value: Any) -> Any:
    """Account numbers and BVNs (any casing of the key) keep their last four digits; the rest is unchanged."""
    if isinstance(value, dict):
        return {
            key: _mask(item) if _KEY_NORMALISER.sub("", str(key).lower()) in _SENSITIVE_KEYS else mask_sensitive(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_sensitive(item) for item in value]
    return value


def _mask(value: Any) -> Any:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return mask_account_number(str(value))
    return None  # an unexpected structure under a sensitive key is dropped, not stored
