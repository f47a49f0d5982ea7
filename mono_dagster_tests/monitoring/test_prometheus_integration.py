"""The pipeline's metrics reach a real Prometheus through a real Pushgateway, and the real alert rules fire.

Prometheus scrapes the Pushgateway and evaluates `monitoring/prometheus_rules/mono_pipeline_alerts.yml`
every second. The pipeline runs through Dagster against the sandbox with `PROMETHEUS_PUSHGATEWAY_URL`
set, so the assets' hooks push after every step, on success and on failure.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from prometheus_client import REGISTRY

from mono_dagster.defs.partitions import shard_key
from mono_dagster.defs.persisted_asset import bank_transactions
from mono_dagster.defs.raw_asset import mono_raw_transactions
from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.observability.push import PUSHGATEWAY_URL_ENV
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import AccountRecord, register_accounts
from mono_dagster_tests.monitoring.servers import (
    Prometheus,
    Pushgateway,
    closed_port,
    running_prometheus,
    running_pushgateway,
    wait_for,
)
from mono_dagster_tests.pipeline import conftest as pipeline_suite

# The pipeline suite's fixtures: the sandbox, a database, a Dagster instance and the code location.
pipeline = pipeline_suite.pipeline
last_days = pipeline_suite.last_days

ERRORS = "taxpoynt_mono_pipeline_errors_total"
STAGE_COUNT = "taxpoynt_mono_pipeline_stage_seconds_count"
STREAK = "taxpoynt_mono_pipeline_failure_streak"
LAST_SUCCESS = "taxpoynt_mono_pipeline_last_success_timestamp_seconds"
CLIENT_REQUESTS = "taxpoynt_mono_client_requests_total"


def local(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"provider": "mono", **labels}) or 0.0


def local_total(name: str, status: str) -> float:
    """A client counter summed over its endpoints, as this process counted it."""
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == name and sample.labels.get("status") == status
    )


def broken_account(pipeline) -> str:
    """A registered account Mono does not know (every sync of it fails with a 404), unique per test."""
    account_id = f"0bad{uuid.uuid4().hex[:20]}"
    with pipeline.engine.begin() as conn:
        register_accounts(conn, [AccountRecord(account_id=account_id)], Settings.from_env().shard_count)
    return account_id


def shard_of(pipeline, account_id: str) -> str:
    return shard_key(pipeline.shards([account_id])[0])


@pytest.fixture()
def database_url(sqlite_database_url: str) -> str:
    """SQLite only: the export path never touches the database, and this file must stay quick."""
    return sqlite_database_url


@pytest.fixture()
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pushgateway]:
    with running_pushgateway(tmp_path) as running:
        monkeypatch.setenv(PUSHGATEWAY_URL_ENV, running.url)
        yield running


@pytest.fixture()
def prometheus(tmp_path: Path, gateway: Pushgateway) -> Iterator[Prometheus]:
    with running_prometheus(tmp_path, gateway) as running:
        yield running


def scraped(prometheus: Prometheus, expr: str, expected: float) -> float:
    """Waits until Prometheus answers `expected` for the single-valued `expr` (it scrapes every second)."""

    def probe() -> float | None:
        result = prometheus.query(expr)
        return float(result[0]["value"][1]) if result and float(result[0]["value"][1]) == expected else None

    return wait_for(f"{expr} == {expected} in Prometheus", probe)


def test_metrics_reach_prometheus_and_a_failure_streak_fires_its_alert(pipeline, last_days, prometheus):
    start, end = last_days(2)
    healthy = pipeline.register()
    broken = broken_account(pipeline)
    account = healthy[0]
    runs = pipeline.run(start, end, [*healthy, broken])
    assert not all(run.success for run in runs), "the broken account fails its shard's run"

    # Every RFC metric arrived, labelled provider="mono" and account_id, with exactly the run's counts
    # (the whole-process total: the pusher's first push to this gateway carries everything counted so far).
    sync_ok = f'sum({STAGE_COUNT}{{provider="mono",account_id="{account}",stage="sync",outcome="success"}})'
    scraped(prometheus, sync_ok, local(STAGE_COUNT, account_id=account, stage="sync", outcome="success"))
    errors = f'sum({ERRORS}{{provider="mono",account_id="{broken}",stage="sync"}})'
    scraped(prometheus, errors, local(ERRORS, account_id=broken, stage="sync", exception_class="MonoNotFoundError"))
    scraped(prometheus, f'count({LAST_SUCCESS}{{provider="mono",account_id="{account}"}} > 0)', 1)
    scraped(prometheus, f'max({STREAK}{{provider="mono",account_id="{account}"}})', 0)
    scraped(prometheus, f'max({STREAK}{{provider="mono",account_id="{broken}"}})', 1)
    scraped(
        prometheus, f'sum({CLIENT_REQUESTS}{{provider="mono",status="404"}}) > 0', local_total(CLIENT_REQUESTS, "404")
    )
    buckets = prometheus.query(f'taxpoynt_mono_pipeline_stage_seconds_bucket{{provider="mono",account_id="{account}"}}')
    assert {sample["metric"]["stage"] for sample in buckets} == {"sync"}

    # Four more failing runs of the broken account: its streak reaches the rule's threshold of 5.
    for _ in range(4):
        pipeline.run(start, end, [broken], only=True)
    assert local(STREAK, account_id=broken) == 5
    scraped(prometheus, f'max({STREAK}{{provider="mono",account_id="{broken}"}})', 5)
    # bank_transactions records its persist stage, then fails on its blocking check: only the failure hook
    # pushes what that step counted.
    persist = f'sum({STAGE_COUNT}{{provider="mono",account_id="all",stage="persist",outcome="success"}})'
    scraped(prometheus, persist, local(STAGE_COUNT, account_id="all", stage="persist", outcome="success"))

    def streak_alerts() -> dict[str, dict]:
        return {
            alert["labels"]["account_id"]: alert
            for alert in prometheus.alerts()
            if alert["labels"]["alertname"] == "MonoFailureStreak" and alert["state"] in ("pending", "firing")
        }

    alerts = wait_for(f"MonoFailureStreak for {broken}", lambda: broken in streak_alerts() and streak_alerts())
    assert not set(healthy) & set(alerts), "healthy accounts must not alert"
    assert alerts[broken]["labels"]["severity"] == "critical"
    assert alerts[broken]["annotations"]["runbook_url"] == "docs/operations.md#monofailurestreak"

    # The pushed counters only ever grew: Prometheus saw no reset across eight pushes.
    assert float(prometheus.query(f'sum(resets({ERRORS}{{provider="mono"}}[5m]))')[0]["value"][1]) == 0
    assert float(prometheus.query(f'sum(resets({STAGE_COUNT}{{provider="mono"}}[5m]))')[0]["value"][1]) == 0


def test_runs_of_two_shards_keep_their_own_groups_and_a_rerun_adds_once(pipeline, last_days, gateway):
    start, end = last_days(2)
    accounts = pipeline.register()
    by_shard: dict[str, str] = {}
    for account_id in [*accounts, *(broken_account(pipeline) for _ in range(16))]:
        by_shard.setdefault(shard_of(pipeline, account_id), account_id)
    (shard_a, account_a), (shard_b, account_b) = sorted(by_shard.items())[:2]

    pipeline.run(start, end, [account_a], only=True)
    pipeline.run(start, end, [account_b], only=True)
    for shard, account_id in ((shard_a, account_a), (shard_b, account_b)):
        count = gateway.samples(STAGE_COUNT, shard=shard, account_id=account_id, stage="sync")
        assert count, f"{shard}'s group lost {account_id} when the other shard pushed"
    # Three steps per run pushed three times each; every series still totals exactly what was counted.
    for account_id in (account_a, account_b):
        for outcome in ("success", "failure"):
            expected = local(STAGE_COUNT, account_id=account_id, stage="sync", outcome=outcome)
            assert gateway.total(STAGE_COUNT, account_id=account_id, stage="sync", outcome=outcome) == expected

    before = gateway.total(STAGE_COUNT, account_id=account_a, stage="sync")
    pipeline.run(start, end, [account_a], only=True)
    assert gateway.total(STAGE_COUNT, account_id=account_a, stage="sync") == before + 1


def test_an_unreachable_pushgateway_only_warns(pipeline, last_days, monkeypatch, caplog):
    start, end = last_days(1)
    account = pipeline.register()[0]
    monkeypatch.setenv(PUSHGATEWAY_URL_ENV, f"http://127.0.0.1:{closed_port()}")
    with caplog.at_level(logging.WARNING, logger="mono_dagster.observability.push"):
        runs = pipeline.run(start, end, [account], only=True)
    assert [run.success for run in runs] == [True]
    assert "could not push metrics to the Pushgateway" in caplog.text


def test_a_run_launched_outside_the_sync_job_pushes_too(pipeline, last_days, gateway):
    """A UI "Materialize" runs the implicit asset job on one partition: the assets' own hooks push."""
    day, _ = last_days(1)
    account = pipeline.register()[0]
    shard = shard_of(pipeline, account)
    mono = MonoResource(
        secret_key=pipeline.sandbox.state.secret_key,
        base_url=pipeline.sandbox.base_url,
        rate_limit_per_second=1000,
        rate_limit_burst=1000,
    )
    result = dg.materialize(
        [mono_raw_transactions, bank_transactions],  # the first step computes raw and canonical
        partition_key=f"{day.isoformat()}|{shard}",
        resources={"mono": mono, "database": DatabaseResource(url=pipeline.database_url)},
        instance=pipeline.instance,
    )
    assert result.success
    expected = local(STAGE_COUNT, account_id=account, stage="sync", outcome="success")
    assert gateway.total(STAGE_COUNT, account_id=account, stage="sync", outcome="success") == expected
    assert gateway.samples(STAGE_COUNT, shard=shard, account_id=account, stage="sync")
