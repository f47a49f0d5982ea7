"""`mono_failure_streak`: escalates 5 consecutive failed syncs of an account, or failed runs of a shard.

Account streaks come from the account registry (`mono_accounts.failure_streak`). Shard streaks come
from Dagster's own run history of `mono_sync_job` (the instance's run storage, read by the partition
range tags every sync run carries) and of the runs the UI launches on this project's assets (a
"Materialize" or a partition backfill runs Dagster's implicit asset job, `__ASSET_JOB`; such a run
counts when its partition, partition range or `mono/shard` tag names exactly one shard): it sees every
failed run, including those that never reached the pipeline's tables (a crash, a bad config, a failing
check), which `persisted_runs` cannot. The logic is in `notify.escalation`; the kill switch makes the
sensor skip.
"""

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

import dagster as dg

from mono_dagster.defs.check_alert_sensor import ASSET_JOB, may_touch_mono_assets
from mono_dagster.defs.jobs import SYNC_JOB
from mono_dagster.defs.kill_switch import kill_switch_reason
from mono_dagster.defs.launch import SHARD_TAG
from mono_dagster.defs.partition_range import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG, scope_from_keys
from mono_dagster.defs.partitions import shard_index, shard_partitions
from mono_dagster.defs.resources import DatabaseResource
from mono_dagster.defs.run_identity import CORRELATION_TAG, correlation_id_for_run
from mono_dagster.notify import NotifierResource
from mono_dagster.notify.escalation import ShardRunOutcome, ShardStreak, evaluate_escalations, shard_streaks
from mono_dagster.pipeline.events import FAILURE_STREAK_ESCALATION

RUN_HISTORY_LIMIT = 500  # newest finished runs read per job per tick (about two months of daily runs x 8 shards)
WILL_RETRY_TAG = "dagster/will_retry"  # set on a failed run that `run_retries` will launch again
STREAK_JOBS: tuple[str, ...] = (SYNC_JOB, ASSET_JOB)


def shards_of_run(tags: Mapping[str, str]) -> tuple[int, ...]:
    """The shards a run covers: its partition range tags, else its partition, else its `mono/shard` tag."""
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if not (start and end):
        start = end = tags.get(PARTITION_TAG)
    if start and end:
        try:
            return scope_from_keys(start, end).shards
        except ValueError:
            return ()
    shard = tags.get(SHARD_TAG)
    if shard in shard_partitions.get_partition_keys():
        return (shard_index(shard),)
    return ()


def _shards_counted(run: dg.DagsterRun) -> tuple[int, ...]:
    """A sync run counts for every shard it covers; a UI run on our assets only when it names one shard."""
    shards = shards_of_run(run.tags)
    if run.job_name == SYNC_JOB:
        return shards
    return shards if len(shards) == 1 and may_touch_mono_assets(run) else ()


def shard_run_outcomes(instance: dg.DagsterInstance, limit: int = RUN_HISTORY_LIMIT) -> list[ShardRunOutcome]:
    """Finished sync runs and UI runs of one shard, newest first, one entry per shard each run covered."""
    records = [
        record
        for job in STREAK_JOBS
        for record in instance.get_run_records(
            filters=dg.RunsFilter(job_name=job, statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]),
            limit=limit,
        )
    ]
    records.sort(key=lambda record: record.storage_id, reverse=True)  # one run table: newest launched first
    outcomes = []
    for record in records:
        run = record.dagster_run
        if run.tags.get(WILL_RETRY_TAG) == "true":
            continue  # its retry is the attempt that counts
        ended_at = datetime.fromtimestamp(record.end_time, UTC) if record.end_time else record.update_timestamp
        for shard in _shards_counted(run):
            outcomes.append(
                ShardRunOutcome(
                    run_id=run.run_id,
                    shard=shard,
                    failed=run.status == dg.DagsterRunStatus.FAILURE,
                    correlation_id=run.tags.get(CORRELATION_TAG) or correlation_id_for_run(run.run_id),
                    ended_at=ended_at.astimezone(UTC) if ended_at.tzinfo else ended_at.replace(tzinfo=UTC),
                    job=run.job_name,
                )
            )
    return outcomes


def run_failure_message(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The first failed step's error (or the run failure's message), for the escalation payload."""
    for event_type in (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE):
        for entry in instance.all_logs(run_id, of_type=event_type):
            event = entry.dagster_event
            data = getattr(event, "event_specific_data", None) if event else None
            error = getattr(data, "error", None)
            if error is not None and getattr(error, "message", None):
                return str(error.message).strip()
            if event is not None and event.message:
                return event.message
    return None


def _with_errors(instance: dg.DagsterInstance, streaks: dict[int, ShardStreak]) -> dict[int, ShardStreak]:
    """Reads the error of each escalating shard's latest failed run (only those: it costs a query each)."""
    result = {}
    for shard, streak in streaks.items():
        if streak.failures >= FAILURE_STREAK_ESCALATION:
            latest = replace(streak.failed_runs[0], error=run_failure_message(instance, streak.failed_runs[0].run_id))
            streak = replace(streak, failed_runs=(latest, *streak.failed_runs[1:]))
        result[shard] = streak
    return result


@dg.sensor(
    name="mono_failure_streak",
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Escalates to on-call (ERROR log, mono.sync.escalated event, PagerDuty) when an account's syncs or a "
        "shard's sync runs (mono_sync_job, or UI runs of one shard) fail 5 times in a row; once per streak, "
        "resolved after a success."
    ),
)
def mono_failure_streak(
    context: dg.SensorEvaluationContext, notifier: NotifierResource, database: DatabaseResource
) -> dg.SkipReason:
    reason = kill_switch_reason()
    if reason is not None:
        return dg.SkipReason(reason)
    streaks = _with_errors(context.instance, shard_streaks(shard_run_outcomes(context.instance)))
    report = evaluate_escalations(database.get_engine(), notifier, streaks)
    for key in report.raised:
        context.log.error(f"escalation raised: {key}")
    for key in report.resolved:
        context.log.info(f"escalation resolved: {key}")
    if report.delivery_errors:
        # The tick fails visibly; the keys stay unsent, so the next tick sends them again.
        raise dg.Failure(description="notification delivery failed: " + "; ".join(report.delivery_errors))
    return dg.SkipReason(report.describe())
