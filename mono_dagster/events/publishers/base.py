"""What a publisher promises: `publish` returns only once the receiver has accepted the message."""

from __future__ import annotations

from typing import Protocol

from mono_dagster.events.message import EventMessage


class PublishError(RuntimeError):
    """The message was not accepted (broker down, nack, unroutable, HTTP error); publishing it again is safe."""


class Publisher(Protocol):
    name: str

    def publish(self, message: EventMessage) -> None:
        """Delivers one message; returns after the receiver's acknowledgement, raises `PublishError` otherwise."""

    def close(self) -> None: ...
