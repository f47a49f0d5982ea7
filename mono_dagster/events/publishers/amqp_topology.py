"""The RabbitMQ topology the relay publishes into, declared idempotently by whoever connects first.

    taxpoynt.mono.events         durable topic exchange; routing key = event name (`mono.fetch.failed`)
    taxpoynt.mono.events.router  durable queue bound with `#`: the message router's queue; messages a
                                 consumer rejects (requeue=false) or that outlive the message TTL are
                                 dead-lettered through
    taxpoynt.mono.events.dlx     durable fanout exchange (keeps the original routing key) into
    taxpoynt.mono.events.dlq     durable queue that keeps them until on-call lists, replays or purges them
                                 (`mono-dagster events dlq ...`)

Every name derives from `MONO_EVENTS_AMQP_EXCHANGE`, so a test or a staging stack can use its own set.
A queue's arguments cannot change once it exists: changing the TTL means deleting the router queue.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel


@dataclass(frozen=True)
class AmqpTopology:
    exchange: str
    message_ttl_seconds: int = 0  # 0: no expiry

    @property
    def router_queue(self) -> str:
        return f"{self.exchange}.router"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.exchange}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.exchange}.dlq"

    def router_queue_arguments(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {"x-dead-letter-exchange": self.dead_letter_exchange}
        if self.message_ttl_seconds:
            arguments["x-message-ttl"] = self.message_ttl_seconds * 1000
        return arguments

    def declare(self, channel: BlockingChannel) -> None:
        self.declare_dead_letters(channel)
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        channel.queue_declare(self.router_queue, durable=True, arguments=self.router_queue_arguments())
        channel.queue_bind(self.router_queue, self.exchange, routing_key="#")

    def declare_dead_letters(self, channel: BlockingChannel) -> None:
        """Only the dead-letter half (what the DLQ commands need; it has no arguments that could differ)."""
        channel.exchange_declare(self.dead_letter_exchange, exchange_type="fanout", durable=True)
        channel.queue_declare(self.dead_letter_queue, durable=True)
        channel.queue_bind(self.dead_letter_queue, self.dead_letter_exchange)

    def delete(self, channel: BlockingChannel) -> None:
        """Removes every object of the topology (tests and teardown of a staging stack)."""
        for queue in (self.router_queue, self.dead_letter_queue):
            channel.queue_delete(queue)
        for exchange in (self.exchange, self.dead_letter_exchange):
            channel.exchange_delete(exchange)


def connection_parameters(url: str, connection_name: str) -> pika.URLParameters:
    """Parameters for one named connection (the name shows in `rabbitmqctl list_connections`)."""
    parameters = pika.URLParameters(url)
    parameters.client_properties = {"connection_name": connection_name}
    parameters.connection_attempts = 1
    parameters.socket_timeout = 5
    parameters.blocked_connection_timeout = 30
    parameters.heartbeat = 30
    return parameters


def describe_amqp_url(url: str) -> str:
    """The broker URL without its password, for logs and error messages."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urllib.parse.urlunsplit((parts.scheme, user + host, parts.path, "", ""))
