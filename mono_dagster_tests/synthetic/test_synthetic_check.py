"""The synthetic check: the schedule's ticks against the sandbox, the two-failure page, and what it records."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa
from prometheus_client import REGISTRY

from mono_dagster.defs.synthetic_monitoring import SYNTHETIC_CRON, mono_synthetic_check
from mono_dagster.storage.engine import create_db_engine
from mono_dagster.storage.tables import bank_transactions, mono_fetches, mono_raw_pages, pipeline_events
from mono_dagster_tests.synthetic.conftest import at


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"provider": "mono", **labels}) or 0.0


def test_two_failures_in_a_row_page_once_per_streak_and_a_success_resolves(synthetic, pagerduty):
    synthetic.sandbox_fails()
    assert synthetic.tick(at(10, 0)).success  # the check worked: it recorded a failure
    assert pagerduty.events == []  # one failure pages nobody

    synthetic.tick(at(10, 30))
    assert [action for action, _ in pagerduty.actions()] == ["trigger"]
    first_streak = pagerduty.events[0]["dedup_key"]
    assert first_streak.startswith(f"mono-synthetic:{synthetic.account_id}:")
    assert pagerduty.events[0]["payload"]["severity"] == "critical"
    assert "2 times in a row" in pagerduty.events[0]["payload"]["summary"]

    synthetic.tick(at(11, 0))
    assert len(pagerduty.events) == 1  # the third failure of the same streak sends nothing new

    synthetic.sandbox_recovers()
    synthetic.tick(at(11, 30))
    assert pagerduty.actions()[1] == ("resolve", first_streak)

    synthetic.sandbox_fails()
    synthetic.tick(at(12, 0))
    assert len(pagerduty.events) == 2
    synthetic.tick(at(12, 30))
    assert [action for action, _ in pagerduty.actions()] == ["trigger", "resolve", "trigger"]
    second_streak = pagerduty.events[2]["dedup_key"]
    assert second_streak != first_streak

    checks = synthetic.checks()
    assert [check.ok for check in checks] == [False, False, False, True, False, False]
    assert [check.consecutive_failures for check in checks] == [1, 2, 3, 0, 1, 2]
    assert [check.paged for check in checks] == [False, True, False, False, False, True]
    assert [check.streak_key for check in checks] == [first_streak] * 3 + [None] + [second_streak] * 2
    assert all(
        check.error_class == "MonoUnavailableError" and check.status_code == 500 for check in checks if not check.ok
    )
    assert all(check.alert_error is None for check in checks)


def test_a_success_records_latency_and_outcome_in_the_rfc_metrics_and_writes_no_transaction_data(synthetic):
    account = synthetic.account_id
    labels = {"account_id": account, "stage": "sync"}
    success_before = value("taxpoynt_mono_pipeline_stage_seconds_count", outcome="success", **labels)
    failure_before = value("taxpoynt_mono_pipeline_stage_seconds_count", outcome="failure", **labels)
    errors_before = value("taxpoynt_mono_pipeline_errors_total", exception_class="MonoUnavailableError", **labels)

    result = synthetic.tick(at(9, 0))
    assert result.success and result.output_for_node("mono_synthetic_fetch") is True
    assert value("taxpoynt_mono_pipeline_stage_seconds_count", outcome="success", **labels) == success_before + 1
    assert value("taxpoynt_mono_synthetic_last_success_timestamp_seconds", account_id=account) > 0
    [check] = synthetic.checks()
    assert check.ok and check.latency_seconds > 0 and check.requests >= 1
    assert check.transaction_count == len(
        synthetic.sandbox.state.transactions(account, check.window_start, check.window_end)
    )

    synthetic.sandbox_fails()
    synthetic.tick(at(9, 30))
    assert value("taxpoynt_mono_pipeline_stage_seconds_count", outcome="failure", **labels) == failure_before + 1
    assert value("taxpoynt_mono_pipeline_errors_total", exception_class="MonoUnavailableError", **labels) == (
        errors_before + 1
    )
    with create_db_engine(synthetic.database_url).connect() as conn:
        for table in (bank_transactions, mono_raw_pages, mono_fetches, pipeline_events):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0, table.name


def test_a_page_that_cannot_be_delivered_is_recorded_and_the_next_failure_pages(synthetic, pagerduty):
    synthetic.sandbox_fails()
    synthetic.tick(at(8, 0))
    synthetic.page_to("http://127.0.0.1:9/v2/enqueue")  # PagerDuty unreachable: nothing listens there
    synthetic.tick(at(8, 30))
    second = synthetic.checks()[-1]
    assert not second.paged and second.alert_error and "NotificationDeliveryError" in second.alert_error
    assert pagerduty.events == []

    synthetic.page_to(pagerduty.url)
    synthetic.tick(at(9, 0))
    assert [action for action, _ in pagerduty.actions()] == ["trigger"]
    assert synthetic.checks()[-1].paged and synthetic.checks()[-1].consecutive_failures == 3


def test_the_schedule_runs_every_30_minutes_in_lagos_and_skips_without_an_account_or_with_the_kill_switch(
    monkeypatch,
):
    assert mono_synthetic_check.cron_schedule == SYNTHETIC_CRON == "*/30 * * * *"
    assert mono_synthetic_check.execution_timezone == "Africa/Lagos"
    monkeypatch.delenv("MONO_SYNTHETIC_ACCOUNT_ID", raising=False)
    monkeypatch.setenv("MONO_INGESTION_ENABLED", "true")
    data = mono_synthetic_check.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=at(7, 0)))
    assert not data.run_requests and "MONO_SYNTHETIC_ACCOUNT_ID is not set" in data.skip_message

    monkeypatch.setenv("MONO_SYNTHETIC_ACCOUNT_ID", "65a1b2c3d4e5f6a7b8c9d0e1")
    monkeypatch.setenv("MONO_SYNTHETIC_WINDOW_DAYS", "3")
    [request] = mono_synthetic_check.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=at(7, 30))
    ).run_requests
    assert request.run_key == "synthetic:2026-11-28T07:30Z"
    assert request.run_config["ops"]["mono_synthetic_fetch"]["config"] == {
        "account_id": "65a1b2c3d4e5f6a7b8c9d0e1",
        "window_days": 3,
    }

    monkeypatch.setenv("MONO_INGESTION_ENABLED", "false")
    data = mono_synthetic_check.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=at(8, 0)))
    assert not data.run_requests and "MONO_INGESTION_ENABLED=false" in data.skip_message
