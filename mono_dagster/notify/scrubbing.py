"""What leaves the process in a notification: scrubbed of secrets, account numbers masked, bounded in size."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mono_dagster.notify.alert import Alert
from mono_dagster.observability.scrub import scrub_text, scrub_value

SUMMARY_LIMIT = 1_024  # PagerDuty's summary limit
TEXT_LIMIT = 2_000  # a detail's text, and a Slack field's limit


def scrubbed_summary(alert: Alert) -> str:
    """One line, scrubbed (secrets removed, 10+-digit runs masked to the last four digits), cut to 1024."""
    line = " ".join(scrub_text(alert.summary).split())
    return line if len(line) <= SUMMARY_LIMIT else line[: SUMMARY_LIMIT - 1] + "…"


def scrubbed_details(details: Mapping[str, object]) -> dict[str, Any]:
    """JSON-ready details: keys as text, strings scrubbed and cut to 2000 characters."""
    return {str(key): _bounded(scrub_value(_jsonable(value))) for key, value in details.items()}


def _jsonable(value: object) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    return str(value)  # dates, Decimals, enums: their text


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= TEXT_LIMIT else value[: TEXT_LIMIT - 1] + "…"
    if isinstance(value, dict):
        return {key: _bounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_bounded(item) for item in value[:50]]
    return value
