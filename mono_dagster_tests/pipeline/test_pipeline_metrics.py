"""The RFC's pipeline metrics as the pipeline records them, and the account-label cardinality guard."""

from __future__ import annotations

from datetime import date

from prometheus_client import REGISTRY

from mono_dagster.observability.metrics import ACCOUNT_BUCKETS, AccountLabeler
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import AccountRecord, register_accounts


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"provider": "mono", **labels}) or 0.0


def test_a_run_records_stage_latency_rows_streaks_and_zero_windows(pipeline, last_days):
    start, end = last_days(2)
    healthy = pipeline.register()
    broken = "0badacc0un7000000000beef"
    with pipeline.engine.begin() as conn:
        register_accounts(conn, [AccountRecord(account_id=broken)], Settings.from_env().shard_count)
    account = healthy[0]
    sync_before = value(
        "taxpoynt_mono_pipeline_stage_seconds_count", account_id=account, stage="sync", outcome="success"
    )
    persist_before = value(
        "taxpoynt_mono_pipeline_stage_seconds_count", account_id="all", stage="persist", outcome="success"
    )
    errors_before = value(
        "taxpoynt_mono_pipeline_errors_total", account_id=broken, stage="sync", exception_class="MonoNotFoundError"
    )
    pipeline.run(start, end, [*healthy, broken])
    assert value("taxpoynt_mono_pipeline_stage_seconds_count", account_id=account, stage="sync", outcome="success") == (
        sync_before + 1
    )
    assert value("taxpoynt_mono_pipeline_stage_seconds_count", account_id="all", stage="persist", outcome="success") > (
        persist_before
    )
    assert (
        value(
            "taxpoynt_mono_pipeline_errors_total", account_id=broken, stage="sync", exception_class="MonoNotFoundError"
        )
        == errors_before + 1
    )
    assert value("taxpoynt_mono_pipeline_failure_streak", account_id=broken) == 1
    assert value("taxpoynt_mono_pipeline_failure_streak", account_id=account) == 0
    assert value("taxpoynt_mono_pipeline_last_success_timestamp_seconds", account_id=account) > 0

    zero_before = value("taxpoynt_mono_pipeline_zero_transactions_total", account_id=account)
    pipeline.run(date(2024, 1, 1), date(2024, 1, 2), healthy)
    assert value("taxpoynt_mono_pipeline_zero_transactions_total", account_id=account) == zero_before + 1


def test_account_labels_switch_to_stable_buckets_past_the_limit():
    label = AccountLabeler(limit=2)
    assert label("a") == "a" and label("b") == "b"
    bucketed = label("c")
    assert bucketed.startswith("bucket-") and bucketed == label("c")
    assert label("a") == "a", "accounts labelled before the limit keep their label"
    assert len({label(f"acct-{n}") for n in range(2000)}) <= ACCOUNT_BUCKETS
    assert label("all") == "all"
