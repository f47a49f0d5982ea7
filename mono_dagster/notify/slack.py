"""A Slack-compatible incoming webhook message: `text` (the fallback line) and Block Kit `blocks`.

https://api.slack.com/messaging/webhooks — Mattermost and Rocket.Chat accept the same `text`.
"""

from __future__ import annotations

import json
from typing import Any

from mono_dagster.notify.alert import Alert
from mono_dagster.notify.scrubbing import scrubbed_details, scrubbed_summary

_ICONS = {
    "critical": ":rotating_light:",
    "error": ":red_circle:",
    "warning": ":warning:",
    "info": ":information_source:",
}
_MAX_FIELDS = 10  # Slack's limit per section
_FIELD_LIMIT = 1_900


def message_body(alert: Alert) -> dict[str, Any]:
    summary = scrubbed_summary(alert)
    details = scrubbed_details(alert.details)
    text = f"{_ICONS[alert.severity]} [{alert.severity.upper()}] {summary}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
    ]
    fields = [
        {"type": "mrkdwn", "text": f"*{key}*\n{_field_text(value)}"[:_FIELD_LIMIT]}
        for key, value in list(details.items())[:_MAX_FIELDS]
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"dedup key `{alert.dedup_key}`"}]})
    return {"text": text, "blocks": blocks}


def _field_text(value: Any) -> str:
    if isinstance(value, str):
        return value or "—"
    return json.dumps(value, default=str)
