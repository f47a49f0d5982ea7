"""The log publisher: writes one line per event (development, or a dry run of the relay)."""

from __future__ import annotations

import logging

from mono_dagster.events.message import EventMessage

log = logging.getLogger(__name__)


class LogPublisher:
    name = "log"

    def publish(self, message: EventMessage) -> None:
        log.info("event %s %s (account %s)", message.event_name, message.event_id, message.account_id or "-")

    def close(self) -> None:
        pass
