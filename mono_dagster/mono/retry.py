"""When and how long to wait before asking Mono again.

Full-jitter exponential backoff (AWS, peers.md §5.3) capped per sleep and in total, except that a
`Retry-After` header (seconds or an HTTP date) from Mono is honoured, up to its own cap.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime

from tenacity import RetryCallState, wait_random_exponential


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int = 5  # tries per request, the first included
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 8.0  # cap of one backoff sleep
    max_retry_after_seconds: float = 60.0  # a longer Retry-After is cut to this
    max_elapsed_seconds: float = 300.0  # the whole retry budget of one request

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


class TransientMonoFailure(Exception):
    """Internal: a failure worth retrying. Carries what the final error message needs."""

    def __init__(
        self,
        reason: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        mono_message: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code
        self.retry_after = retry_after
        self.mono_message = mono_message


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None when absent or junk."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffWait:
    """A tenacity wait strategy: Retry-After when Mono gave one, else full jitter."""

    def __init__(self, settings: RetrySettings) -> None:
        self._settings = settings
        self._jitter = wait_random_exponential(multiplier=settings.base_delay_seconds, max=settings.max_delay_seconds)

    def __call__(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, TransientMonoFailure) and failure.retry_after is not None:
            return min(failure.retry_after, self._settings.max_retry_after_seconds)
        return float(self._jitter(state))
