"""The RabbitMQ publisher (AMQP 0-9-1, pika): persistent messages, publisher confirms, mandatory routing.

`publish` returns only after the broker confirmed the message (written to the durable queues it was
routed to); a nack, an unroutable message or a lost connection raise `PublishError`, and the next
`publish` reconnects. A message that was in flight when the connection dropped may have reached
the queue anyway: the relay publishes it again and consumers de-duplicate on `message_id`.
"""

from __future__ import annotations

import logging
import os
import uuid

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from mono_dagster.events.message import APP_ID, CONTENT_TYPE, EventMessage
from mono_dagster.events.publishers.amqp_topology import AmqpTopology, connection_parameters, describe_amqp_url
from mono_dagster.events.publishers.base import PublishError

log = logging.getLogger(__name__)

PERSISTENT = pika.DeliveryMode.Persistent
BROKER_ERRORS = (pika.exceptions.AMQPError, OSError)


def describe_error(exc: BaseException) -> str:
    detail = str(exc).strip()
    return f"{exc.__class__.__name__}: {detail}" if detail else exc.__class__.__name__


def quiet_pika_logs() -> None:
    """pika logs every failed connection attempt at ERROR with a traceback; our one warning line says it all."""
    logging.getLogger("pika").setLevel(logging.CRITICAL)


def new_connection_name(role: str) -> str:
    return f"mono-dagster-{role}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class AmqpPublisher:
    name = "amqp"

    def __init__(self, url: str, topology: AmqpTopology, *, connection_name: str | None = None) -> None:
        self._url = url
        self.topology = topology
        self.connection_name = connection_name or new_connection_name("relay")
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self.connections_opened = 0

    def publish(self, message: EventMessage) -> None:
        try:
            channel = self._open_channel()
            channel.basic_publish(
                exchange=self.topology.exchange,
                routing_key=message.event_name,
                body=message.body,
                properties=pika.BasicProperties(
                    content_type=CONTENT_TYPE,
                    delivery_mode=PERSISTENT,
                    message_id=message.event_id,
                    correlation_id=message.correlation_id,
                    timestamp=message.created_at_epoch,
                    type=message.event_name,
                    app_id=APP_ID,
                    headers=message.headers,
                ),
                mandatory=True,
            )
        except pika.exceptions.UnroutableError as exc:
            raise PublishError(f"{message.event_name} is unroutable on {self.topology.exchange}") from exc
        except pika.exceptions.NackError as exc:
            raise PublishError(f"broker refused {message.event_name} (nack)") from exc
        except BROKER_ERRORS as exc:
            self.close()
            raise PublishError(f"broker unavailable at {describe_amqp_url(self._url)}: {describe_error(exc)}") from exc

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except BROKER_ERRORS:
                pass

    def _open_channel(self) -> BlockingChannel:
        if self._connection is not None and self._channel is not None:
            try:
                # Handles heartbeats and notices a connection the broker closed while we were idle,
                # so an idle relay reconnects quietly instead of failing its first publish.
                self._connection.process_data_events(time_limit=0)
                if self._channel.is_open:
                    return self._channel
            except BROKER_ERRORS:
                pass
            self.close()
        connection = pika.BlockingConnection(connection_parameters(self._url, self.connection_name))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            self.topology.declare(channel)
        except BaseException:
            connection.close()
            raise
        log.info("connected to %s as %s", describe_amqp_url(self._url), self.connection_name)
        self._connection, self._channel = connection, channel
        self.connections_opened += 1
        return channel
