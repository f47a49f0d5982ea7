"""The dead-letter queue from on-call's side: list, replay and purge dead-lettered events.

A scan takes messages off the DLQ one by one without acknowledging them; what it does not act on is
returned to the queue, in its place, when the scan's channel closes. Acting on a message means:
- **replay**: publish it again, byte for byte with the same `message_id`, straight to the queue that
  dead-lettered it (so other consumers of the exchange do not see it twice), and acknowledge it on
  the DLQ only after the broker confirmed the republish. A crash in between leaves it in the DLQ and
  a second replay delivers it again, which consumers de-duplicate: replays are idempotent.
- **purge**: acknowledge it (drop it).

Patterns match the event name like the RFC's rollback step (`mono.fetch.*`, shell-style, `*` also
matches dots); `before` keeps events created before a time.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from mono_dagster.events.message import EVENT_NAME_HEADER
from mono_dagster.events.publishers.amqp import BROKER_ERRORS, describe_error, new_connection_name
from mono_dagster.events.publishers.amqp_topology import AmqpTopology, connection_parameters, describe_amqp_url

REPLAY_COUNT_HEADER = "x-taxpoynt-replays"


class DeadLetterError(ValueError):
    """The broker could not be reached or refused an operation; the message says which."""


@dataclass(frozen=True)
class DeadLetterFilter:
    event_pattern: str | None = None
    before: datetime | None = None

    def matches(self, letter: DeadLetter) -> bool:
        if self.event_pattern and not fnmatch.fnmatchcase(letter.event_name, self.event_pattern):
            return False
        if self.before is not None:
            return letter.created_at is not None and letter.created_at < self.before
        return True


@dataclass(frozen=True)
class DeadLetter:
    message_id: str | None
    event_name: str
    account_id: str | None
    created_at: datetime | None
    reason: str
    source_queue: str | None
    routing_key: str
    dead_lettered_at: datetime | None
    body: bytes
    properties: BasicProperties

    def age_seconds(self, now: datetime) -> float | None:
        return (now - self.created_at).total_seconds() if self.created_at else None


@dataclass(frozen=True)
class DeadLetterOutcome:
    letters: list[DeadLetter]  # the ones acted on (listed, replayed or purged)
    left: int  # scanned and left in the DLQ (not matching, or a replay the broker refused)
    errors: list[str]


class DeadLetterQueue:
    def __init__(self, url: str, topology: AmqpTopology) -> None:
        self.url = url
        self.topology = topology

    def list(self, which: DeadLetterFilter, *, limit: int = 1000) -> DeadLetterOutcome:
        return self._scan(which, limit, lambda _channel, _letter, _tag: None)

    def purge(self, which: DeadLetterFilter, *, limit: int = 100_000) -> DeadLetterOutcome:
        return self._scan(which, limit, lambda channel, _letter, tag: channel.basic_ack(tag))

    def replay(self, which: DeadLetterFilter, *, limit: int = 100_000) -> DeadLetterOutcome:
        def republish(channel: BlockingChannel, letter: DeadLetter, tag: int) -> None:
            exchange, routing_key = (
                ("", letter.source_queue)
                if letter.source_queue
                else (
                    self.topology.exchange,
                    letter.routing_key,
                )
            )
            # Confirmed (the channel is in confirm mode) before the DLQ copy is acknowledged.
            channel.basic_publish(exchange, routing_key, letter.body, _replay_properties(letter), mandatory=True)
            channel.basic_ack(tag)

        return self._scan(which, limit, republish)

    def _scan(
        self,
        which: DeadLetterFilter,
        limit: int,
        act: Callable[[BlockingChannel, DeadLetter, int], None],
    ) -> DeadLetterOutcome:
        acted: list[DeadLetter] = []
        errors: list[str] = []
        left = 0
        with self._channel() as channel:
            while len(acted) < limit:
                method, properties, body = channel.basic_get(self.topology.dead_letter_queue, auto_ack=False)
                if method is None:
                    break
                assert isinstance(method, Basic.GetOk)
                letter = read_dead_letter(method, properties, body)
                if not which.matches(letter):
                    left += 1
                    continue
                try:
                    act(channel, letter, method.delivery_tag)
                except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
                    errors.append(f"{letter.event_name} {letter.message_id}: {exc.__class__.__name__}")
                    left += 1
                    continue
                acted.append(letter)
        # Closing the channel returns every message not acknowledged to the DLQ, in place.
        return DeadLetterOutcome(acted, left, errors)

    @contextmanager
    def _channel(self) -> Iterator[BlockingChannel]:
        try:
            connection = pika.BlockingConnection(connection_parameters(self.url, new_connection_name("dlq")))
        except BROKER_ERRORS as exc:
            where = describe_amqp_url(self.url)
            raise DeadLetterError(f"cannot reach RabbitMQ at {where}: {describe_error(exc)}") from exc
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            self.topology.declare_dead_letters(channel)
            yield channel
        except BROKER_ERRORS as exc:
            raise DeadLetterError(f"RabbitMQ refused the operation: {describe_error(exc)}") from exc
        finally:
            if connection.is_open:
                connection.close()


def read_dead_letter(method: Basic.GetOk, properties: BasicProperties, body: bytes) -> DeadLetter:
    headers: dict[str, Any] = dict(properties.headers or {})
    deaths = headers.get("x-death") or []
    latest: dict[str, Any] = deaths[0] if deaths else {}
    document = _json(body)
    return DeadLetter(
        message_id=properties.message_id,
        event_name=str(document.get("event_name") or headers.get(EVENT_NAME_HEADER) or method.routing_key),
        account_id=document.get("account_id"),
        created_at=_created_at(document, properties),
        reason=_text(latest.get("reason") or headers.get("x-first-death-reason") or "unknown"),
        source_queue=_text(latest["queue"]) if latest.get("queue") else None,
        routing_key=method.routing_key,
        dead_lettered_at=_aware(latest.get("time")),
        body=body,
        properties=properties,
    )


def _replay_properties(letter: DeadLetter) -> BasicProperties:
    original = letter.properties
    headers = {key: value for key, value in (original.headers or {}).items() if not key.startswith("x-")}
    headers.update({k: v for k, v in (original.headers or {}).items() if k.startswith("x-taxpoynt-")})
    headers[REPLAY_COUNT_HEADER] = int(headers.get(REPLAY_COUNT_HEADER, 0)) + 1
    return BasicProperties(
        content_type=original.content_type,
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=original.message_id,
        correlation_id=original.correlation_id,
        timestamp=original.timestamp,
        type=original.type,
        app_id=original.app_id,
        headers=headers,
    )


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _created_at(document: dict[str, Any], properties: BasicProperties) -> datetime | None:
    text = document.get("created_at")
    if isinstance(text, str):
        try:
            return _aware(datetime.fromisoformat(text))
        except ValueError:
            pass
    return datetime.fromtimestamp(properties.timestamp, UTC) if properties.timestamp else None


def _aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
