"""The RFC's pipeline metrics as the pipeline records them (by account id), and the export's label policy."""

from __future__ import annotations

from datetime import date

from prometheus_client import REGISTRY

from mono_dagster.observability.metrics import ACCOUNT_BUCKETS, AccountLabelPolicy, account_label
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
    """A fleet-size switch: by id up to the limit, every account by its bucket above it (no first-come quota)."""
    assert account_label("acct-1") == "acct-1", "the process records ids; the push decides"
    within, above = AccountLabelPolicy.for_fleet(2, limit=2), AccountLabelPolicy.for_fleet(3, limit=2)
    assert within.label("a") == "a" and within.label("b") == "b"
    bucketed = above.label("a")
    assert bucketed.startswith("bucket-") and bucketed == above.label("a")
    assert len({above.label(f"acct-{n}") for n in range(2000)}) <= ACCOUNT_BUCKETS
    assert above.label("all") == "all" and within.label("all") == "all"
