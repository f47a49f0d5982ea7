"""Tenant budgets: configuration, waiting (never failing), the default, isolation between tenants, and
two processes sharing one budget in the real store (SQLite file and Postgres)."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import date
from typing import Any

import dagster as dg
import httpx
import pytest
from prometheus_client import REGISTRY

from mono_dagster.defs.resources import MonoResource, mono_resource_from_environment
from mono_dagster.mono import DateWindow, MonoClient, SecretBackedMonoTokenProvider, TokenBucket
from mono_dagster.mono.tenant_limits import (
    TenantBudget,
    TenantLimiter,
    TenantLimits,
    TenantLimitsError,
    TenantRateLimitTimeout,
    close_shared_tenant_limiters,
)
from mono_dagster.mono.tenant_stores import tenant_store_for
from mono_dagster.pipeline.sync import RunIdentity, sync_accounts
from mono_dagster.storage.accounts import AccountRecord, list_accounts, register_accounts
from mono_dagster.storage.engine import create_db_engine, dispose_engines
from mono_dagster.storage.migrate import upgrade_database

FALLBACK = TenantBudget(rate=10, burst=20)
WHOLE_SANDBOX = DateWindow(date(2000, 1, 1), date(2100, 1, 1))


def waits(tenant: str) -> float:
    labels = {"service_role": "mono_open_banking", "provider": "mono", "tenant": tenant}
    return REGISTRY.get_sample_value("taxpoynt_mono_client_tenant_rate_limit_waits_total", labels) or 0.0


def limiter(database_url: str, document: str, max_wait_seconds: float | None = 30.0) -> TenantLimiter:
    limits = TenantLimits.parse(document, fallback=FALLBACK)
    return TenantLimiter(limits, tenant_store_for(database_url), max_wait_seconds=max_wait_seconds)


# -- configuration ---------------------------------------------------------------------------------------
def test_budgets_come_from_json_with_a_default_for_every_other_tenant():
    limits = TenantLimits.parse(
        '{"tenant-a": {"rate": 5, "burst": 10}, "*": {"rate": 2, "burst": 4}}', fallback=FALLBACK
    )
    assert limits.budget_for("tenant-a") == TenantBudget(5, 10)
    assert limits.budget_for("anyone-else") == TenantBudget(2, 4)
    assert TenantLimits.parse('{"tenant-a": {"rate": 5, "burst": 10}}', fallback=FALLBACK).budget_for("b") == FALLBACK


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not JSON"),
        ('{"tenant-a": {"rate": 0, "burst": 10}}', "tenant-a.rate"),
        ('{"tenant-a": {"rate": 5}}', "tenant-a.burst"),
        ('["tenant-a"]', "expected"),
    ],
)
def test_a_bad_configuration_says_what_is_wrong(document, message):
    with pytest.raises(TenantLimitsError, match=message):
        TenantLimits.parse(document, fallback=FALLBACK)


def test_a_budget_of_rate_and_burst_is_burst_requests_per_burst_over_rate_seconds():
    [rate] = TenantBudget(rate=5, burst=10).rates()
    assert rate.limit == 10 and rate.interval >= 2000  # 2 s, plus the safety margin


# -- one process -----------------------------------------------------------------------------------------
def test_a_tenant_over_budget_waits_rather_than_fails(database_url):
    before = waits("tenant-a")
    with limiter(database_url, '{"tenant-a": {"rate": 4, "burst": 2}}') as tenants:  # 2 per 0.5 s
        waited = [tenants.acquire("tenant-a") for _ in range(5)]
    assert waited[:2] == [0.0, 0.0]  # the burst goes at once
    waited_for_budget = [seconds for seconds in waited if seconds > 0]
    assert waited[2] > 0 and len(waited_for_budget) >= 2  # 5 requests on a burst of 2: two bursts' worth wait
    assert waits("tenant-a") == before + len(waited_for_budget)


def test_without_a_bound_a_tenant_over_budget_waits_and_never_fails(database_url):
    with limiter(database_url, '{"tenant-a": {"rate": 4, "burst": 1}}', max_wait_seconds=None) as tenants:
        assert tenants.max_wait_seconds is None
        started = time.monotonic()
        waited = [tenants.acquire("tenant-a") for _ in range(4)]
    assert waited[0] == 0.0 and all(seconds > 0 for seconds in waited[1:])
    assert time.monotonic() - started >= 0.6  # 3 requests past a burst of 1 at 4 per second


def test_a_wait_past_the_bound_raises_an_error_naming_the_tenant(database_url):
    with limiter(database_url, '{"tenant-slow": {"rate": 0.01, "burst": 1}}', max_wait_seconds=0.2) as tenants:
        tenants.acquire("tenant-slow")
        with pytest.raises(TenantRateLimitTimeout, match="tenant 'tenant-slow' waited") as caught:
            tenants.acquire("tenant-slow")
    assert caught.value.tenant == "tenant-slow"


def test_a_tenant_without_configuration_uses_the_default(database_url):
    document = '{"tenant-a": {"rate": 1000, "burst": 1000}, "*": {"rate": 0.01, "burst": 1}}'
    with limiter(database_url, document, max_wait_seconds=0.2) as tenants:
        assert tenants.acquire("unlisted") == 0.0
        with pytest.raises(TenantRateLimitTimeout, match="unlisted"):
            tenants.acquire("unlisted")
        assert [tenants.acquire("tenant-a") for _ in range(5)] == [0.0] * 5


def test_different_tenants_do_not_block_each_other(database_url):
    document = '{"tenant-slow": {"rate": 0.01, "burst": 1}, "tenant-fast": {"rate": 1000, "burst": 50}}'
    with limiter(database_url, document, max_wait_seconds=1.0) as tenants:
        tenants.acquire("tenant-slow")
        outcome: list[BaseException] = []

        def wait_for_slow() -> None:
            try:
                tenants.acquire("tenant-slow")
            except TenantRateLimitTimeout as exc:
                outcome.append(exc)

        blocked = threading.Thread(target=wait_for_slow)
        blocked.start()
        fast = [tenants.acquire("tenant-fast") for _ in range(20)]
        blocked.join()
    assert fast == [0.0] * 20  # never waited, while the slow tenant's budget was spent and its request waiting
    assert len(outcome) == 1


# -- the client and the pipeline -------------------------------------------------------------------------
def test_the_sync_spends_the_budget_of_each_accounts_tenant(sandbox, database_url):
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    first, second = sandbox.state.account_ids()[:2]
    with engine.begin() as conn:
        register_accounts(conn, [AccountRecord(first, tenant="tenant-tight")], shard_count=8)
        register_accounts(conn, [AccountRecord(second, tenant="tenant-roomy")], shard_count=8)
        accounts = list_accounts(conn)
    resource = MonoResource(
        secret_key=sandbox.state.secret_key,
        base_url=sandbox.base_url,
        rate_limit_per_second=1000,
        rate_limit_burst=1000,
        page_size=30,
        # One request per 0.25 s (+ margin) for the tight tenant: far slower than a page is served.
        tenant_rate_limits='{"tenant-tight": {"rate": 4, "burst": 1}, "*": {"rate": 1000, "burst": 1000}}',
        tenant_rate_limit_store=database_url,
    )
    tight, roomy = waits("tenant-tight"), waits("tenant-roomy")
    try:
        with resource.build_client() as client:
            summary = sync_accounts(client, engine, accounts, WHOLE_SANDBOX, RunIdentity("run-tenants", "corr"))
    finally:
        close_shared_tenant_limiters()
        dispose_engines()
    assert not summary.failed
    pages = {outcome.account_id: outcome.pages for outcome in summary.outcomes}
    assert pages[first] > 1
    # The tight tenant's pages waited their turn (a page that took longer than the window to arrive
    # would not need to, so this counts at least one, at most every page after the first).
    assert tight + 1 <= waits("tenant-tight") <= tight + pages[first] - 1
    assert waits("tenant-roomy") == roomy


def test_the_resource_reads_tenant_limits_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MONO_SECRET_KEY", "test_sk_from_env")
    monkeypatch.setenv("MONO_TENANT_RATE_LIMITS", '{"tenant-a": {"rate": 5, "burst": 10}}')
    monkeypatch.setenv("MONO_TENANT_RATE_LIMIT_STORE", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("MONO_TENANT_RATE_LIMIT_MAX_WAIT_SECONDS", "30")
    try:
        with dg.build_resources({"mono": mono_resource_from_environment()}) as built:
            tenants = built.mono.tenant_limiter()
            assert tenants is not None and tenants.max_wait_seconds == 30
            assert tenants.limits.budget_for("tenant-a") == TenantBudget(5, 10)
            assert tenants.limits.budget_for("other") == TenantBudget(10, 20)  # the process-wide bucket's
            assert (tmp_path / "db.sqlite.tenant-limits").parent == tmp_path
    finally:
        close_shared_tenant_limiters()
    monkeypatch.delenv("MONO_TENANT_RATE_LIMITS")
    with dg.build_resources({"mono": mono_resource_from_environment()}) as built:
        assert built.mono.tenant_limiter() is None


# -- two processes, one budget ---------------------------------------------------------------------------
SHARED = TenantBudget(rate=20, burst=4)


class _StampingTransport(httpx.HTTPTransport):
    """A real transport that notes the wall-clock time each request leaves this process."""

    def __init__(self, stamps: list[float]) -> None:
        super().__init__()
        self.stamps = stamps

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.stamps.append(time.time())
        return super().handle_request(request)


def _fetch_in_another_process(
    base_url: str, secret: str, account_id: str, store_url: str, start: Any, results: Any
) -> None:
    stamps: list[float] = []
    limits = TenantLimits(default=FALLBACK, tenants={"shared-tenant": SHARED})
    try:
        with (
            TenantLimiter(limits, tenant_store_for(store_url), max_wait_seconds=60) as tenants,
            MonoClient(
                token_provider=SecretBackedMonoTokenProvider(loader=lambda: secret, env_var=None),
                base_url=base_url,
                rate_limiter=TokenBucket(1000, 1000),
                tenant_limiter=tenants,
                page_size=10,
                transport=_StampingTransport(stamps),
            ) as client,
        ):
            start.wait(timeout=60)
            result = client.fetch_transactions(account_id, WHOLE_SANDBOX, tenant="shared-tenant")
    except Exception as exc:  # reported to the test, which fails with it
        results.put((f"{exc.__class__.__name__}: {exc}", stamps))
    else:
        results.put((len(result.pages), stamps))


def _most_in_any_window(stamps: list[float], seconds: float) -> int:
    ordered = sorted(stamps)
    return max(sum(1 for t in ordered[i:] if t < first + seconds) for i, first in enumerate(ordered))


@pytest.mark.slow
def test_two_processes_sharing_one_tenant_budget_never_exceed_it_together(sandbox, database_url):
    upgrade_database(database_url)  # the store lives beside the pipeline's tables (same database or folder)
    first, second = sandbox.state.account_ids()[:2]
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(
            target=_fetch_in_another_process,
            args=(sandbox.base_url, sandbox.state.secret_key, account, database_url, start, results),
        )
        for account in (first, second)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    assert all(isinstance(pages, int) for pages, _ in outcomes), outcomes
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    stamps = [stamp for _, process_stamps in outcomes for stamp in process_stamps]
    assert len(stamps) == sum(pages for pages, _ in outcomes) == sandbox.state.request_count("/v2/accounts/")
    assert len(stamps) > 3 * SHARED.burst  # enough traffic that an unshared budget would overrun
    for window in (0.1, 0.25, 0.5, 1.0, 2.0):
        assert _most_in_any_window(stamps, window) <= SHARED.rate * window + SHARED.burst, window
