"""`MONO_EVENTS_PUBLISHER` and friends pick and configure the relay's publisher."""

from __future__ import annotations

import pytest

from mono_dagster.events.publishers import (
    AmqpPublisher,
    LogPublisher,
    WebhookPublisher,
    publisher_from_settings,
    topology_from_settings,
)
from mono_dagster.settings import Settings, SettingsError


def test_amqp_is_the_default_publisher_with_the_production_topology():
    settings = Settings.from_env({})
    publisher = publisher_from_settings(settings)
    assert isinstance(publisher, AmqpPublisher)
    topology = topology_from_settings(settings)
    assert (topology.exchange, topology.router_queue, topology.dead_letter_queue) == (
        "taxpoynt.mono.events",
        "taxpoynt.mono.events.router",
        "taxpoynt.mono.events.dlq",
    )
    assert topology.router_queue_arguments() == {
        "x-dead-letter-exchange": "taxpoynt.mono.events.dlx",
        "x-message-ttl": 604_800_000,
    }


def test_webhook_and_log_publishers_come_from_configuration():
    webhook = publisher_from_settings(
        Settings.from_env(
            {
                "MONO_EVENTS_PUBLISHER": "webhook",
                "MONO_EVENTS_WEBHOOK_URL": "http://127.0.0.1:9/events",
                "MONO_EVENTS_WEBHOOK_SECRET": "s3cret",
            }
        )
    )
    assert isinstance(webhook, WebhookPublisher)
    webhook.close()
    assert isinstance(publisher_from_settings(Settings.from_env({"MONO_EVENTS_PUBLISHER": "log"})), LogPublisher)


def test_an_unknown_publisher_is_a_settings_error_naming_the_variable():
    with pytest.raises(SettingsError, match="MONO_EVENTS_PUBLISHER='kafka'"):
        Settings.from_env({"MONO_EVENTS_PUBLISHER": "kafka"})


def test_the_webhook_secret_never_shows_in_the_settings_repr():
    settings = Settings.from_env({"MONO_EVENTS_WEBHOOK_SECRET": "s3cret-value"})
    assert "s3cret-value" not in repr(settings)
