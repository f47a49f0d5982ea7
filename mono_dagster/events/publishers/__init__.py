"""Publishers: where the relay sends events. `MONO_EVENTS_PUBLISHER` picks one (amqp, webhook, log)."""

from __future__ import annotations

from mono_dagster.events.publishers.amqp import AmqpPublisher
from mono_dagster.events.publishers.amqp_topology import AmqpTopology
from mono_dagster.events.publishers.base import Publisher, PublishError
from mono_dagster.events.publishers.log import LogPublisher
from mono_dagster.events.publishers.webhook import WebhookPublisher
from mono_dagster.settings import Settings


def topology_from_settings(settings: Settings) -> AmqpTopology:
    return AmqpTopology(settings.events_amqp_exchange, settings.events_amqp_message_ttl_seconds)


def publisher_from_settings(settings: Settings) -> Publisher:
    if settings.events_publisher == "amqp":
        return AmqpPublisher(settings.events_amqp_url.get_secret_value(), topology_from_settings(settings))
    if settings.events_publisher == "webhook":
        return WebhookPublisher(settings.events_webhook_url, settings.events_webhook_secret.get_secret_value())
    return LogPublisher()


__all__ = [
    "AmqpPublisher",
    "AmqpTopology",
    "LogPublisher",
    "PublishError",
    "Publisher",
    "WebhookPublisher",
    "publisher_from_settings",
    "topology_from_settings",
]
