"""The daily sync schedule and the kill switch, evaluated as the daemon would, and a scheduled run executed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from mono_dagster.definitions import defs
from mono_dagster.defs.partition_range import RANGE_END_TAG, RANGE_START_TAG

TICK = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 02:00 in Lagos


def evaluate(name: str, when: datetime = TICK) -> dg.ScheduleExecutionData:
    schedule = defs.resolve_schedule_def(name)
    return schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when))


def test_daily_sync_is_one_run_per_shard_over_yesterday_and_the_look_back():
    result = evaluate("mono_daily_sync")
    assert len(result.run_requests) == 8
    for shard, request in enumerate(result.run_requests):
        assert request.tags[RANGE_START_TAG] == f"2026-11-20|shard-{shard:02d}"
        assert request.tags[RANGE_END_TAG] == f"2026-11-27|shard-{shard:02d}"
        assert request.run_key == f"daily:2026-11-27:shard-{shard:02d}"
    assert len({request.tags["mono/correlation_id"] for request in result.run_requests}) == 8


def test_the_kill_switch_makes_every_schedule_skip_with_the_reason(monkeypatch):
    monkeypatch.setenv("MONO_INGESTION_ENABLED", "false")
    names = {schedule.name for schedule in defs.get_repository_def().schedule_defs}
    assert {
        "mono_daily_sync",
        "mono_freshness_check_hourly",
        "mono_raw_retention_daily",
        "mono_synthetic_check",
    } <= names
    for name in sorted(names):  # every schedule the code location has, including ones added later
        result = evaluate(name)
        assert not result.run_requests
        assert "MONO_INGESTION_ENABLED=false" in result.skip_message


def test_schedules_run_when_ingestion_is_enabled(monkeypatch):
    monkeypatch.setenv("MONO_INGESTION_ENABLED", "true")
    assert len(evaluate("mono_freshness_check_hourly").run_requests) == 1
    assert len(evaluate("mono_raw_retention_daily").run_requests) == 1


def test_a_scheduled_run_persists_the_window_of_its_shard(pipeline):
    accounts = pipeline.register()
    shard = pipeline.shards(accounts[:1])[0]
    now = datetime.now(UTC)
    request = evaluate("mono_daily_sync", now).run_requests[shard]
    result = pipeline.job.execute_in_process(instance=pipeline.instance, tags=request.tags)
    assert result.success
    yesterday = now.date() - timedelta(days=1)
    in_shard = [account for account in accounts if pipeline.shards([account]) == [shard]]
    persisted = {(row["account_id"], row["provider_transaction_id"]) for row in pipeline.persisted()}
    assert persisted == pipeline.served(yesterday - timedelta(days=7), yesterday, in_shard)
