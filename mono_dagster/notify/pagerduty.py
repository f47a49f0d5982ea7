"""PagerDuty Events API v2: `trigger` and `resolve` events keyed by the alert's `dedup_key`.

https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ — the body is
`{routing_key, event_action, dedup_key, payload: {summary, source, severity, component, group, class,
custom_details}}`; PagerDuty answers 202.
"""

from __future__ import annotations

from typing import Any

from mono_dagster.notify.alert import Alert
from mono_dagster.notify.scrubbing import scrubbed_details, scrubbed_summary

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
CLIENT = "mono-dagster"


def trigger_body(alert: Alert, *, routing_key: str, source: str) -> dict[str, Any]:
    details = scrubbed_details(alert.details)
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.dedup_key,
        "client": CLIENT,
        "payload": {
            "summary": scrubbed_summary(alert),
            "source": source,
            "severity": alert.severity,
            "component": str(details.get("component", "mono_sync_job")),
            "group": str(details.get("group", "mono")),
            "class": str(details.get("class", alert.dedup_key.split(":", 1)[0])),
            "custom_details": details,
        },
    }


def resolve_body(dedup_key: str, *, routing_key: str) -> dict[str, Any]:
    return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}
