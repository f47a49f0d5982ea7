"""Every fault the sandbox can inject, over real HTTP: what is retried, what is not, and how long we wait."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY, generate_latest

from mono_dagster.mono import (
    DateWindow,
    MonoAuthenticationError,
    MonoRequestError,
    MonoUnavailableError,
    RetrySettings,
    SecretBackedMonoTokenProvider,
    Timeouts,
)
from mono_dagster.sandbox import FaultPlan
from mono_dagster_tests.mono.conftest import ids

TRANSIENT_KINDS = ["429", "429_retry_after", "429_retry_after_date", "500", "502", "503", "truncated"]


def window_of(sandbox, days: int = 5) -> DateWindow:
    end = sandbox.state.config.end_date or datetime.now(UTC).date()
    return DateWindow(end - timedelta(days=days - 1), end)


@pytest.mark.parametrize("kind", TRANSIENT_KINDS)
def test_transient_fault_is_retried_and_the_window_is_complete(sandbox, make_client, kind):
    account = sandbox.state.account_ids()[0]
    window = window_of(sandbox)
    sandbox.state.set_fault_plan(FaultPlan(script=["ok", kind, kind]))
    result = make_client(page_size=10).fetch_transactions(account, window)
    assert result.retries == 2
    assert result.requests == len(result.pages) + 2
    expected = sandbox.state.transactions(account, window.start, window.end)
    assert sorted(ids(result.transactions)) == sorted(ids(expected))


def test_a_read_timeout_is_retried(sandbox, make_client):
    account = sandbox.state.account_ids()[0]
    sandbox.state.set_fault_plan(FaultPlan(script=["slow"], slow_seconds=1.0))
    client = make_client(timeouts=Timeouts(read_seconds=0.2), page_size=100)
    result = client.fetch_transactions(account, window_of(sandbox))
    assert result.retries == 1
    assert len(result.transactions) == 25


def test_retry_after_in_seconds_is_honoured(sandbox, make_client):
    slept: list[float] = []
    account = sandbox.state.account_ids()[0]
    sandbox.state.set_fault_plan(FaultPlan(script=["429_retry_after"], retry_after_seconds=1))
    client = make_client(
        retry=RetrySettings(max_attempts=3, base_delay_seconds=0.001, max_delay_seconds=0.002),
        sleep=slept.append,
        page_size=100,
    )
    client.fetch_transactions(account, window_of(sandbox))
    assert slept == [1.0]


def test_retry_after_as_an_http_date_is_honoured(sandbox, make_client):
    slept: list[float] = []
    account = sandbox.state.account_ids()[0]
    sandbox.state.set_fault_plan(FaultPlan(script=["429_retry_after_date"], retry_after_seconds=3))
    client = make_client(
        retry=RetrySettings(max_attempts=3, base_delay_seconds=0.001, max_delay_seconds=0.002),
        sleep=slept.append,
        page_size=100,
    )
    client.fetch_transactions(account, window_of(sandbox))
    assert len(slept) == 1
    assert 1.0 <= slept[0] <= 3.0  # an HTTP date has one-second precision


def test_backoff_without_retry_after_uses_capped_full_jitter(sandbox, make_client):
    slept: list[float] = []
    account = sandbox.state.account_ids()[0]
    sandbox.state.set_fault_plan(FaultPlan(script=["500", "502", "503", "500", "429"]))
    client = make_client(
        retry=RetrySettings(max_attempts=6, base_delay_seconds=0.1, max_delay_seconds=0.3),
        sleep=slept.append,
        page_size=100,
    )
    client.fetch_transactions(account, window_of(sandbox))
    assert len(slept) == 5
    assert all(0 <= pause <= 0.3 for pause in slept)


def test_retries_give_up_with_a_clear_error_after_the_budget(sandbox, make_client):
    account = sandbox.state.account_ids()[0]
    window = window_of(sandbox)
    sandbox.state.set_fault_plan(FaultPlan(script=["503"] * 10))
    sandbox.state.reset_request_log()
    with pytest.raises(MonoUnavailableError) as raised:
        make_client(
            retry=RetrySettings(max_attempts=3, base_delay_seconds=0.001, max_delay_seconds=0.002)
        ).fetch_transactions(account, window)
    assert sandbox.state.request_count() == 3
    assert "HTTP 503" in str(raised.value)
    assert account in str(raised.value)
    assert str(window) in str(raised.value)


def test_an_unreachable_host_is_retried_then_reported(make_client):
    client = make_client(
        base_url="http://127.0.0.1:9",
        retry=RetrySettings(max_attempts=2, base_delay_seconds=0.001, max_delay_seconds=0.002),
    )
    with pytest.raises(MonoUnavailableError, match="cannot connect"):
        client.fetch_transactions("a" * 24, DateWindow(datetime(2024, 1, 1).date(), datetime(2024, 1, 2).date()))


def test_a_401_reloads_the_key_once_and_succeeds(sandbox, make_client):
    vault = {"key": "test_sk_stale"}
    loads: list[str] = []
    refreshed: list[bool] = []

    def load() -> str:
        loads.append(vault["key"])
        return vault["key"]

    provider = SecretBackedMonoTokenProvider(loader=load, env_var=None, on_refresh=[lambda: refreshed.append(True)])
    provider.secret()  # cached: the stale key
    vault["key"] = sandbox.state.secret_key  # rotated in the secrets service
    result = make_client(token_provider=provider, page_size=100).fetch_transactions(
        sandbox.state.account_ids()[0], window_of(sandbox)
    )
    assert len(result.transactions) == 25
    assert loads == ["test_sk_stale", sandbox.state.secret_key]
    assert refreshed == [True]


def test_a_401_after_the_refresh_is_an_authentication_error(sandbox, make_client):
    provider = SecretBackedMonoTokenProvider(loader=lambda: "test_sk_wrong_key_123", env_var=None)
    sandbox.state.reset_request_log()
    with pytest.raises(MonoAuthenticationError) as raised:
        make_client(token_provider=provider).fetch_transactions(sandbox.state.account_ids()[0], window_of(sandbox))
    assert sandbox.state.request_count() == 2
    assert "Unauthorized request." in str(raised.value)


@pytest.mark.parametrize("status", ["400", "403"])
def test_client_errors_are_not_retried(sandbox, make_client, status):
    account = sandbox.state.account_ids()[0]
    sandbox.state.set_fault_plan(FaultPlan(script=[status]))
    sandbox.state.reset_request_log()
    with pytest.raises(MonoRequestError) as raised:
        make_client().fetch_transactions(account, window_of(sandbox))
    assert raised.value.status_code == int(status)
    assert sandbox.state.request_count() == 1


def test_the_window_is_complete_when_a_quarter_of_answers_are_faults(sandbox, make_client):
    account = sandbox.state.account_ids()[1]
    window = window_of(sandbox, 30)
    sandbox.state.set_fault_plan(FaultPlan(seed=11, rate=0.25, kinds=tuple(TRANSIENT_KINDS), retry_after_seconds=1))
    result = make_client(
        page_size=5,
        retry=RetrySettings(
            max_attempts=12, base_delay_seconds=0.001, max_delay_seconds=0.004, max_retry_after_seconds=0.004
        ),
    ).fetch_transactions(account, window)
    expected = sandbox.state.transactions(account, window.start, window.end)
    assert sorted(ids(result.transactions)) == sorted(ids(expected))
    assert result.retries > 0
    faults = [record for record in sandbox.state.request_log if record.fault]
    assert 0.1 < len(faults) / len(sandbox.state.request_log) < 0.45


def test_the_secret_key_never_reaches_logs_exceptions_reprs_or_metrics(sandbox, make_client, caplog):
    secret = "test_sk_do_not_leak_4d1f0a"
    sandbox.state.set_secret_key(secret)
    caplog.set_level(logging.DEBUG)
    provider = SecretBackedMonoTokenProvider(loader=lambda: secret, env_var=None)
    client = make_client(token_provider=provider)
    sandbox.state.set_fault_plan(FaultPlan(script=["429", "500", "truncated"]))
    client.fetch_transactions(sandbox.state.account_ids()[0], window_of(sandbox))
    failures: list[str] = []
    for bad in ("0123456789abcdef01234567",):
        try:
            client.fetch_transactions(bad, window_of(sandbox))
        except Exception as exc:  # collect the messages a user would see
            failures.append(f"{exc!s} {exc!r}")
    wrong = make_client(token_provider=SecretBackedMonoTokenProvider(loader=lambda: secret + "x", env_var=None))
    try:
        wrong.fetch_transactions(sandbox.state.account_ids()[0], window_of(sandbox))
    except MonoAuthenticationError as exc:
        failures.append(f"{exc!s} {exc!r}")
    assert len(failures) == 2
    seen = "\n".join([caplog.text, *failures, repr(client), repr(provider), generate_latest(REGISTRY).decode()])
    assert secret not in seen
    assert "do_not_leak" not in seen
