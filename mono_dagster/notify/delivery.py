"""POSTing a JSON body to a notification endpoint: a timeout, and a few retries on transient failures.

Error messages never include the URL: a Slack webhook URL and a PagerDuty routing key are secrets.
"""

from __future__ import annotations

from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential


class NotificationDeliveryError(RuntimeError):
    """The endpoint refused the notification or could not be reached after the retries."""


class _Transient(Exception):
    pass


def post_json(
    url: str,
    body: dict[str, Any],
    *,
    endpoint: str,
    timeout_seconds: float,
    max_attempts: int,
    retry_base_delay_seconds: float,
) -> httpx.Response:
    """POSTs `body`; retries connection errors, timeouts, 429 and 5xx; raises `NotificationDeliveryError`."""

    def attempt(client: httpx.Client) -> httpx.Response:
        try:
            response = client.post(url, json=body)
        except httpx.TransportError as exc:
            raise _Transient(f"{endpoint} unreachable ({exc.__class__.__name__})") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(f"{endpoint} answered HTTP {response.status_code}")
        if not response.is_success:
            raise NotificationDeliveryError(
                f"{endpoint} refused the notification: HTTP {response.status_code} {response.text[:200]}"
            )
        return response

    retrying = Retrying(
        stop=stop_after_attempt(max_attempts),
        wait=wait_random_exponential(multiplier=retry_base_delay_seconds, max=max(retry_base_delay_seconds, 8.0)),
        retry=retry_if_exception_type(_Transient),
        reraise=True,
    )
    with httpx.Client(timeout=httpx.Timeout(timeout_seconds)) as client:
        try:
            return retrying(attempt, client)
        except _Transient as exc:
            raise NotificationDeliveryError(f"{exc} after {max_attempts} attempt(s)") from None
