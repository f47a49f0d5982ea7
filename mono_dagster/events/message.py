"""One outbox event as a message: the JSON body and the identity every transport carries.

The event id travels three ways (AMQP `message_id`, a header, the body) so every consumer can
de-duplicate at-least-once deliveries whatever it reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from mono_dagster.storage.outbox import StoredEvent

EVENT_ID_HEADER: Final = "x-taxpoynt-event-id"
EVENT_NAME_HEADER: Final = "x-taxpoynt-event-name"
ACCOUNT_HEADER: Final = "x-taxpoynt-account-id"
CONTENT_TYPE: Final = "application/json"
APP_ID: Final = "mono-dagster"


@dataclass(frozen=True)
class EventMessage:
    event_id: str
    event_name: str
    account_id: str | None
    correlation_id: str
    created_at_epoch: int
    body: bytes

    @property
    def headers(self) -> dict[str, str]:
        headers = {EVENT_ID_HEADER: self.event_id, EVENT_NAME_HEADER: self.event_name}
        if self.account_id is not None:
            headers[ACCOUNT_HEADER] = self.account_id
        return headers


def message_for(event: StoredEvent) -> EventMessage:
    """The message of a stored event; the same event always gives the same bytes (replays are identical)."""
    document: dict[str, Any] = {
        "event_id": event.event_id,
        "event_name": event.event_name,
        "account_id": event.account_id,
        "correlation_id": event.correlation_id,
        "run_id": event.run_id,
        "partition_key": event.partition_key,
        "created_at": event.created_at.isoformat(),
        "outbox_id": event.id,
        "payload": event.payload,
    }
    return EventMessage(
        event_id=event.event_id,
        event_name=event.event_name,
        account_id=event.account_id,
        correlation_id=event.correlation_id,
        created_at_epoch=int(event.created_at.timestamp()),
        body=json.dumps(document, sort_keys=True, separators=(",", ":")).encode(),
    )
