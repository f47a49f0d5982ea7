"""`NotifierResource`: sends an `Alert` once per de-duplication key, to PagerDuty, a chat webhook or the log.

Routing: "oncall" goes to PagerDuty when `PAGERDUTY_ROUTING_KEY` is set, else to the chat webhook, else
to the log; "chat" goes to `SLACK_WEBHOOK_URL`, else to the log. Nothing configured means log-only (the
de-duplication still applies). The key is claimed in the pipeline's database (`alert_notifications`)
before sending, so it is sent once across every process until `resolve` closes it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from sqlalchemy import Engine

from mono_dagster.notify import pagerduty, slack
from mono_dagster.notify.alert import Alert
from mono_dagster.notify.delivery import NotificationDeliveryError, post_json
from mono_dagster.notify.scrubbing import scrubbed_details, scrubbed_summary
from mono_dagster.storage.engine import create_db_engine, resolve_database_url
from mono_dagster.storage.migrate import ensure_schema_current
from mono_dagster.storage.notifications import (
    claim_notification,
    get_notification,
    release_notification,
    resolve_notification,
)

log = logging.getLogger(__name__)

_LOG_LEVELS = {"critical": logging.CRITICAL, "error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}


class NotifierResource(dg.ConfigurableResource):
    """On-call and chat notifications, de-duplicated by `Alert.dedup_key` in the pipeline's database.

    `pagerduty_routing_key` and `slack_webhook_url` are secrets: bind them with `EnvVar` (as
    `notifier_from_environment` does) so the UI hides them; they never appear in logs or errors.
    """

    pagerduty_routing_key: str | None = None
    pagerduty_events_url: str = pagerduty.DEFAULT_EVENTS_URL
    slack_webhook_url: str | None = None
    database_url: str | None = None  # the pipeline's database (MONO_DAGSTER_DB_URL); None: the default
    source: str = "mono-dagster"  # PagerDuty's payload.source
    timeout_seconds: float = 10.0
    max_attempts: int = 3
    retry_base_delay_seconds: float = 0.5

    @property
    def mode(self) -> str:
        """ "pagerduty+chat", "pagerduty", "chat" or "log-only"."""
        backends = [name for name, on in (("pagerduty", self._pagerduty_on), ("chat", self._chat_on)) if on]
        return "+".join(backends) or "log-only"

    def get_engine(self) -> Engine:
        url = self.database_url or resolve_database_url()
        engine = create_db_engine(url)
        ensure_schema_current(url, upgrade=engine.dialect.name == "sqlite")
        return engine

    def send(self, alert: Alert) -> bool:
        """Sends the alert unless its key is already open; True if sent now, False if de-duplicated.

        A failed delivery raises `NotificationDeliveryError` and leaves the key unsent, so the next
        evaluation sends it again.
        """
        summary, details = scrubbed_summary(alert), scrubbed_details(alert.details)
        engine = self.get_engine()
        with engine.begin() as conn:
            claimed = claim_notification(
                conn, alert.dedup_key, route=alert.route, severity=alert.severity, summary=summary, details=details
            )
        if not claimed:
            log.debug("alert %s is already open; not sent again", alert.dedup_key)
            return False
        try:
            backend = self._deliver(alert)
        except Exception:
            with engine.begin() as conn:
                release_notification(conn, alert.dedup_key)
            raise
        log.log(
            _LOG_LEVELS[alert.severity],
            "alert %s [%s, %s via %s]: %s",
            alert.dedup_key,
            alert.severity,
            alert.route,
            backend,
            summary,
        )
        return True

    def resolve(self, dedup_key: str) -> None:
        """Closes the key so a later occurrence is sent again; resolves the PagerDuty incident of an on-call alert."""
        engine = self.get_engine()
        with engine.connect() as conn:
            row = get_notification(conn, dedup_key)
        if row is None or row.status != "open":
            return
        if row.route == "oncall" and self._pagerduty_on:
            self._post(
                self.pagerduty_events_url,
                pagerduty.resolve_body(dedup_key, routing_key=str(self.pagerduty_routing_key)),
                endpoint="PagerDuty Events API",
            )
        with engine.begin() as conn:
            resolved = resolve_notification(conn, dedup_key)
        if resolved:
            log.info("alert %s resolved", dedup_key)

    @property
    def _pagerduty_on(self) -> bool:
        return bool(self.pagerduty_routing_key)

    @property
    def _chat_on(self) -> bool:
        return bool(self.slack_webhook_url)

    def _deliver(self, alert: Alert) -> str:
        if alert.route == "oncall" and self._pagerduty_on:
            body = pagerduty.trigger_body(alert, routing_key=str(self.pagerduty_routing_key), source=self.source)
            self._post(self.pagerduty_events_url, body, endpoint="PagerDuty Events API")
            return "pagerduty"
        if self._chat_on:
            self._post(str(self.slack_webhook_url), slack.message_body(alert), endpoint="chat webhook")
            return "chat"
        return "log"

    def _post(self, url: str, body: dict[str, Any], *, endpoint: str) -> None:
        post_json(
            url,
            body,
            endpoint=endpoint,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            retry_base_delay_seconds=self.retry_base_delay_seconds,
        )


def notifier_from_environment(environ: Mapping[str, str] | None = None) -> NotifierResource:
    """Wires `NotifierResource` to `PAGERDUTY_ROUTING_KEY`, `PAGERDUTY_EVENTS_URL`, `SLACK_WEBHOOK_URL` and
    `MONO_DAGSTER_DB_URL` through `EnvVar` (resolved at launch, hidden in the UI); unset ones stay off."""
    env = environ if environ is not None else os.environ
    config: dict[str, Any] = {}
    for variable, field in (
        ("PAGERDUTY_ROUTING_KEY", "pagerduty_routing_key"),
        ("PAGERDUTY_EVENTS_URL", "pagerduty_events_url"),
        ("SLACK_WEBHOOK_URL", "slack_webhook_url"),
        ("MONO_DAGSTER_DB_URL", "database_url"),
    ):
        if env.get(variable):
            config[field] = dg.EnvVar(variable)
    return NotifierResource(**config)


__all__ = ["NotificationDeliveryError", "NotifierResource", "notifier_from_environment"]
