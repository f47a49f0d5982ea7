"""`Alert`: one problem to tell someone about, keyed by a stable de-duplication key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

Severity = Literal["critical", "error", "warning", "info"]
Route = Literal["oncall", "chat"]

SEVERITIES: tuple[str, ...] = get_args(Severity)
ROUTES: tuple[str, ...] = get_args(Route)
MAX_DEDUP_KEY_LENGTH = 255  # PagerDuty's limit, and the column's


@dataclass(frozen=True)
class Alert:
    """A notification.

    `dedup_key` is stable: the same problem gives the same key, which is PagerDuty's `dedup_key` and our
    own de-duplication (a key is sent once until it is resolved). `route` "oncall" pages (PagerDuty Events
    v2), "chat" posts to the Slack-compatible webhook. `summary` is one line; `details` are scrubbed before
    sending. Optional `details` entries `component`, `group` and `class` fill PagerDuty's fields of that name.
    """

    dedup_key: str
    severity: Severity
    route: Route
    summary: str
    details: Mapping[str, object]

    def __post_init__(self) -> None:
        if not self.dedup_key or len(self.dedup_key) > MAX_DEDUP_KEY_LENGTH:
            raise ValueError(f"dedup_key must be 1..{MAX_DEDUP_KEY_LENGTH} characters, got {len(self.dedup_key)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, got {self.severity!r}")
        if self.route not in ROUTES:
            raise ValueError(f"route must be one of {', '.join(ROUTES)}, got {self.route!r}")
