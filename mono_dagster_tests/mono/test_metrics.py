"""Every Mono request is counted by endpoint template and status, with retries and rate-limit waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from mono_dagster.mono import DateWindow, TokenBucket
from mono_dagster.sandbox import FaultPlan

ENDPOINT = "/v2/accounts/{id}/transactions"
LABELS = {"service_role": "mono_open_banking", "provider": "mono", "endpoint": ENDPOINT}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_statuses_latency_retries_and_waits_are_recorded(sandbox, make_client):
    account = sandbox.state.account_ids()[0]
    labels = {**LABELS, "account_id": account}
    end = sandbox.state.config.end_date or datetime.now(UTC).date()
    window = DateWindow(end - timedelta(days=2), end)
    ok_before = sample("taxpoynt_mono_client_requests_total", **labels, status="200")
    busy_before = sample("taxpoynt_mono_client_requests_total", **labels, status="503")
    latency_before = sample("taxpoynt_mono_client_request_seconds_count", **labels)
    retries_before = sample("taxpoynt_mono_client_retries_total", **labels, reason="HTTP 503")
    waits_before = sample(
        "taxpoynt_mono_client_rate_limit_wait_seconds_total", service_role="mono_open_banking", provider="mono"
    )
    sandbox.state.set_fault_plan(FaultPlan(script=["503"]))
    make_client(page_size=100, rate_limiter=TokenBucket(50, 1)).fetch_transactions(account, window)
    make_client(page_size=100, rate_limiter=TokenBucket(50, 1)).fetch_transactions(account, window)
    assert sample("taxpoynt_mono_client_requests_total", **labels, status="200") == ok_before + 2
    assert sample("taxpoynt_mono_client_requests_total", **labels, status="503") == busy_before + 1
    assert sample("taxpoynt_mono_client_request_seconds_count", **labels) == latency_before + 3
    assert sample("taxpoynt_mono_client_retries_total", **labels, reason="HTTP 503") == retries_before + 1
    waited = sample(
        "taxpoynt_mono_client_rate_limit_wait_seconds_total", service_role="mono_open_banking", provider="mono"
    )
    assert waited > waits_before, "a one-token bucket makes the retry wait for the rate limiter"


def test_account_listings_and_lookups_are_labelled_all(sandbox, make_client):
    """They also run in scraped long-lived processes (discovery sensor, webhook receiver): no per-account series."""
    common = {"service_role": "mono_open_banking", "provider": "mono", "account_id": "all", "status": "200"}
    listing = {**common, "endpoint": "/v2/accounts"}
    lookup = {**common, "endpoint": "/v2/accounts/{id}"}
    before = (
        sample("taxpoynt_mono_client_requests_total", **listing),
        sample("taxpoynt_mono_client_requests_total", **lookup),
    )
    client = make_client(page_size=100)
    client.list_accounts()
    client.get_account(sandbox.state.account_ids()[0])
    after = (
        sample("taxpoynt_mono_client_requests_total", **listing),
        sample("taxpoynt_mono_client_requests_total", **lookup),
    )
    assert after[0] > before[0] and after[1] > before[1]
