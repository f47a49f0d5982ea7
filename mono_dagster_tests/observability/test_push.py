"""Pushing to a real Pushgateway: cumulative per shard group, never twice, gauges per account, warnings only.

Each `MetricsPusher` here stands for one Dagster run process: its own registry, its own memory of what it
pushed. The metric families are the RFC's (built on a private registry so the tests own their values).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mono_dagster.defs.metrics_push import run_shard_keys
from mono_dagster.observability.metrics import STAGE_BUCKETS
from mono_dagster.observability.push import (
    MULTI_SHARD,
    PUSHGATEWAY_URL_ENV,
    MetricsPusher,
    push_run_metrics,
    redact_url,
    shard_group,
)
from mono_dagster_tests.monitoring.servers import Pushgateway, closed_port, running_pushgateway

ERRORS = "taxpoynt_mono_pipeline_errors_total"
STAGE_COUNT = "taxpoynt_mono_pipeline_stage_seconds_count"
STAGE_BUCKET = "taxpoynt_mono_pipeline_stage_seconds_bucket"
STREAK = "taxpoynt_mono_pipeline_failure_streak"
LAST_SUCCESS = "taxpoynt_mono_pipeline_last_success_timestamp_seconds"
SYNTHETIC_LAST_SUCCESS = "taxpoynt_mono_synthetic_last_success_timestamp_seconds"


class RunProcess:
    """The pipeline's metric families in a registry of their own, and a pusher for them."""

    def __init__(self, gateway: Pushgateway) -> None:
        self.registry = CollectorRegistry()
        labels = ["provider", "account_id"]
        self.errors = Counter(ERRORS, "errors", [*labels, "stage", "exception_class"], registry=self.registry)
        self.stage = Histogram(
            "taxpoynt_mono_pipeline_stage_seconds",
            "stage seconds",
            [*labels, "stage", "outcome"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.streak = Gauge(STREAK, "streak", labels, registry=self.registry)
        self.last_success = Gauge(LAST_SUCCESS, "last success", labels, registry=self.registry)
        self.unrelated = Counter("other_service_requests_total", "not ours", registry=self.registry)
        self.pusher = MetricsPusher(gateway.url, registry=self.registry)

    def fail(self, account: str, streak: int) -> None:
        self.errors.labels("mono", account, "sync", "MonoServerError").inc()
        self.stage.labels("mono", account, "sync", "failure").observe(2.2)
        self.streak.labels("mono", account).set(streak)

    def succeed(self, account: str, at: float) -> None:
        self.stage.labels("mono", account, "sync", "success").observe(0.4)
        self.streak.labels("mono", account).set(0)
        self.last_success.labels("mono", account).set(at)


@pytest.fixture()
def gateway(tmp_path: Path) -> Iterator[Pushgateway]:
    with running_pushgateway(tmp_path) as running:
        yield running


def test_consecutive_runs_of_a_shard_accumulate_so_rate_sees_every_error(gateway):
    first, second = RunProcess(gateway), RunProcess(gateway)
    first.fail("acct-1", streak=1)
    assert first.pusher.push("shard-03").ok
    second.fail("acct-1", streak=2)
    assert second.pusher.push("shard-03").ok

    assert gateway.samples(ERRORS, shard="shard-03", account_id="acct-1")[0][1] == 2
    assert gateway.total(STAGE_COUNT, shard="shard-03", outcome="failure") == 2
    buckets = gateway.samples(STAGE_BUCKET, shard="shard-03", outcome="failure")
    assert len(buckets) == len(STAGE_BUCKETS) + 1, "le values of the gateway and the client must meet"
    assert {labels["le"]: value for labels, value in buckets}["2.5"] == 2
    assert {labels["le"]: value for labels, value in buckets}["2"] == 0


def test_pushing_the_same_run_twice_does_not_double_count(gateway):
    run = RunProcess(gateway)
    run.fail("acct-1", streak=1)
    run.pusher.push("shard-01")
    run.pusher.push("shard-01")
    assert gateway.total(ERRORS, account_id="acct-1") == 1
    run.fail("acct-1", streak=2)
    run.pusher.push("shard-01")
    run.pusher.push("shard-01")
    assert gateway.total(ERRORS, account_id="acct-1") == 2
    assert gateway.total(STAGE_COUNT, account_id="acct-1") == 2


def test_runs_of_different_shards_do_not_overwrite_each_other(gateway):
    one, two = RunProcess(gateway), RunProcess(gateway)
    one.fail("acct-1", streak=1)
    one.pusher.push("shard-01")
    two.fail("acct-2", streak=1)
    two.fail("acct-2", streak=2)
    two.pusher.push("shard-02")
    assert gateway.samples(ERRORS, shard="shard-01")[0][1] == 1
    assert gateway.samples(ERRORS, shard="shard-02")[0][1] == 2
    assert gateway.samples(ERRORS, shard="shard-02", account_id="acct-1") == []


def test_a_failed_run_keeps_the_accounts_last_success_and_sets_its_streak(gateway):
    good, bad = RunProcess(gateway), RunProcess(gateway)
    good.succeed("acct-1", at=1_700_000_000)
    good.pusher.push("shard-01")
    bad.fail("acct-1", streak=1)
    bad.pusher.push("shard-01")

    assert gateway.samples(STREAK, account_id="acct-1") == [
        ({"account_id": "acct-1", "instance": "", "job": "mono_pipeline", "provider": "mono"}, 1.0)
    ]
    assert [value for _, value in gateway.samples(LAST_SUCCESS, account_id="acct-1")] == [1_700_000_000]


def test_account_gauges_are_one_series_whatever_shard_group_the_run_had(gateway):
    multi, single = RunProcess(gateway), RunProcess(gateway)
    multi.fail("acct-1", streak=4)
    multi.pusher.push(MULTI_SHARD)
    single.succeed("acct-1", at=1_700_000_100)
    single.pusher.push("shard-01")
    assert [value for _, value in gateway.samples(STREAK, account_id="acct-1")] == [0]
    assert gateway.samples(STREAK, shard=MULTI_SHARD) == []


def test_a_process_never_repushes_a_gauge_it_did_not_change(gateway):
    early, later = RunProcess(gateway), RunProcess(gateway)
    early.succeed("acct-1", at=1_700_000_000)
    early.pusher.push("shard-01")
    later.fail("acct-1", streak=3)
    later.pusher.push("shard-01")
    early.pusher.push("shard-01")  # e.g. the CLI's next shard run: acct-1 is stale in its registry
    assert [value for _, value in gateway.samples(STREAK, account_id="acct-1")] == [3]
    assert gateway.total(ERRORS, shard="shard-01") == 1, "series only other processes pushed are kept"


def test_only_the_pipeline_and_client_families_are_pushed_without_created_samples(gateway):
    run = RunProcess(gateway)
    run.unrelated.inc()
    run.fail("acct-1", streak=1)
    run.pusher.push("shard-01")
    exposed = {labels_and_name for labels_and_name in _names(gateway)}
    assert "other_service_requests_total" not in exposed
    assert not {name for name in exposed if name.startswith("taxpoynt_") and name.endswith("_created")}
    assert ERRORS in exposed


def test_the_synthetic_checks_last_success_is_pushed_per_account(gateway):
    """The MonoSyntheticCheckStale alert reads it; the synthetic job runs in its own process too."""
    run = RunProcess(gateway)
    synthetic = Gauge(
        SYNTHETIC_LAST_SUCCESS, "last synthetic success", ["provider", "account_id"], registry=run.registry
    )
    synthetic.labels("mono", "acct-synthetic").set(1_700_000_500)
    run.pusher.push(MULTI_SHARD)
    assert [value for _, value in gateway.samples(SYNTHETIC_LAST_SUCCESS, account_id="acct-synthetic")] == [
        1_700_000_500
    ]


def _names(gateway: Pushgateway) -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    from mono_dagster_tests.monitoring.servers import get_text

    return {s.name for f in text_string_to_metric_families(get_text(f"{gateway.url}/metrics")) for s in f.samples}


def test_an_unreachable_pushgateway_is_a_warning_and_nothing_is_marked_pushed(caplog, tmp_path):
    url = f"http://user:hunter2@127.0.0.1:{closed_port()}"
    registry = CollectorRegistry()
    Counter(ERRORS, "errors", ["provider"], registry=registry).labels("mono").inc()
    pusher = MetricsPusher(url, registry=registry, timeout=2.0)
    with caplog.at_level(logging.WARNING, logger="mono_dagster.observability.push"):
        outcome = pusher.push("shard-01")
    assert not outcome.ok and outcome.error
    assert "could not push metrics" in caplog.text
    assert "hunter2" not in caplog.text, "credentials in the gateway URL never reach a log line"

    with running_pushgateway(tmp_path) as gateway:
        pusher.gateway_url = gateway.url  # the gateway came back: the failed push's counts still go out
        assert pusher.push("shard-01").ok
        assert gateway.total(ERRORS) == 1


def test_push_run_metrics_is_a_no_op_without_the_url_and_warns_when_it_is_down(caplog):
    assert push_run_metrics(["shard-01"], environ={}) is None
    environ = {PUSHGATEWAY_URL_ENV: f"127.0.0.1:{closed_port()}"}
    with caplog.at_level(logging.WARNING, logger="mono_dagster.observability.push"):
        outcome = push_run_metrics(["shard-01", "shard-02"], environ=environ)
    assert outcome is not None and not outcome.ok and outcome.shard_group == MULTI_SHARD
    assert "the run goes on" in caplog.text


def test_shard_groups_follow_the_runs_partition_tags():
    assert shard_group(["shard-03"]) == "shard-03"
    assert shard_group(["shard-03", "shard-03"]) == "shard-03"
    assert shard_group(["shard-01", "shard-02"]) == MULTI_SHARD
    assert shard_group([]) == MULTI_SHARD
    assert run_shard_keys({"dagster/partition": "2024-01-02|shard-05"}) == ["shard-05"]
    ranged = {
        "dagster/asset_partition_range_start": "2024-01-01|shard-01",
        "dagster/asset_partition_range_end": "2024-01-09|shard-03",
    }
    assert run_shard_keys(ranged) == ["shard-01", "shard-02", "shard-03"]
    assert run_shard_keys({}) == []
    assert redact_url("https://user:secret@gateway.internal:9091/") == "https://gateway.internal:9091/"


def test_a_gateway_url_that_is_not_http_is_refused_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="mono_dagster.observability.push"):
        outcome = MetricsPusher("file:///etc/passwd").push("shard-01")
    assert not outcome.ok and "http" in (outcome.error or "")
