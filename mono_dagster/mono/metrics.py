"""Prometheus instrumentation of every Mono request, under the service role `mono_open_banking`.

`endpoint` is the path template (`/v2/accounts/{id}/transactions`), never a real id. `account_id` is
the account a transaction fetch is about, as the RFC labels every metric (`all` for account listings
and lookups, which also run in long-lived processes that are scraped, not pushed); above
MONO_METRICS_ACCOUNT_LABEL_LIMIT the push maps it to a bucket (observability/push.py), which keeps the
series count bounded however many accounts there are.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from mono_dagster.mono.operations import SERVICE_ROLE
from mono_dagster.observability.metrics import ALL_ACCOUNTS

# The label of requests about no single account: the pipeline metrics' own, which the label budget passes through.
NO_ACCOUNT = ALL_ACCOUNTS

# Buckets bracket the RFC's 2 s latency SLA finely, then reach out to the client's read timeout.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)

REQUESTS = Counter(
    "taxpoynt_mono_client_requests_total",
    "HTTP requests sent to Mono, by endpoint template and status (or the transport error class).",
    ["service_role", "provider", "account_id", "endpoint", "status"],
)
REQUEST_SECONDS = Histogram(
    "taxpoynt_mono_client_request_seconds",
    "Latency of single HTTP requests to Mono.",
    ["service_role", "provider", "account_id", "endpoint"],
    buckets=LATENCY_BUCKETS,
)
RETRIES = Counter(
    "taxpoynt_mono_client_retries_total",
    "Requests to Mono that were retried, by the reason for the retry.",
    ["service_role", "provider", "account_id", "endpoint", "reason"],
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "taxpoynt_mono_client_rate_limit_wait_seconds_total",
    "Seconds spent waiting on the in-process token bucket before calling Mono.",
    ["service_role", "provider"],
)


def observe_request(account_id: str | None, endpoint: str, status: str, seconds: float) -> None:
    account = account_id or NO_ACCOUNT
    REQUESTS.labels(SERVICE_ROLE, "mono", account, endpoint, status).inc()
    REQUEST_SECONDS.labels(SERVICE_ROLE, "mono", account, endpoint).observe(seconds)


def observe_retry(account_id: str | None, endpoint: str, reason: str) -> None:
    RETRIES.labels(SERVICE_ROLE, "mono", account_id or NO_ACCOUNT, endpoint, reason).inc()


def observe_rate_limit_wait(seconds: float) -> None:
    if seconds > 0:
        RATE_LIMIT_WAIT_SECONDS.labels(SERVICE_ROLE, "mono").inc(seconds)
