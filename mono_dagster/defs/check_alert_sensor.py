"""`mono_check_alerts`: failed asset checks to on-call (ERROR) or chat (WARN); latency and zero-transaction warnings.

Each tick reads the asset check evaluations of the sync and freshness runs that finished since its cursor
(Dagster's run history and each run's event log), including the runs the UI launches ("Materialize" and
partition backfills run Dagster's implicit asset job, `__ASSET_JOB`; only the evaluations of this
project's assets count there), and sends a failed check with its name, the partition
(or the run's partition range) and a masked sample from the check's metadata; a later pass of the same
check for the same partitions resolves it. It also turns new `mono.fetch.latency_sla_exceeded` events
and zero-transaction streaks into chat warnings. Everything is de-duplicated by the notifier; the kill
switch makes the sensor skip.
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from mono_dagster.defs import names
from mono_dagster.defs.freshness import freshness_check_job
from mono_dagster.defs.jobs import SYNC_JOB
from mono_dagster.defs.kill_switch import kill_switch_reason
from mono_dagster.defs.partition_range import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG
from mono_dagster.defs.resources import DatabaseResource
from mono_dagster.notify import Alert, NotifierResource
from mono_dagster.notify.check_alerts import CheckEvaluation, check_alert, evaluation_from_dagster
from mono_dagster.notify.fetch_warnings import latency_breaches, zero_transaction_streaks
from mono_dagster.settings import Settings

# Dagster's implicit asset job: what a UI "Materialize" and a UI partition backfill run. Dagster exports no
# public constant for it (`IMPLICIT_ASSET_JOB_NAME` is internal), hence the literal.
ASSET_JOB = "__ASSET_JOB"
MONITORED_JOBS: tuple[str, ...] = (SYNC_JOB, freshness_check_job.name, ASSET_JOB)
MONO_ASSET_KEYS: frozenset[dg.AssetKey] = frozenset(
    dg.AssetKey(name) for name in (names.RAW_ASSET, names.CANONICAL_ASSET, names.PERSISTED_ASSET)
)
FIRST_LOOK_BACK = timedelta(hours=24)  # a sensor with no cursor yet looks this far back, not at all history
RUNS_PER_TICK = 200


def run_partition(tags: dict[str, str]) -> str:
    """The run's partition, or its partition range `start..end`, or "unpartitioned"."""
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}..{end}"
    return tags.get(PARTITION_TAG) or "unpartitioned"


def may_touch_mono_assets(run: dg.DagsterRun) -> bool:
    """Whether a run may have materialized or checked this project's assets, by its asset (check) selection.

    A run with no recorded selection (a whole-job launch) may have: the caller looks at what it did.
    """
    assets = run.asset_selection
    checks = run.asset_check_selection
    if assets is None and checks is None:
        return True
    return bool(MONO_ASSET_KEYS & set(assets or ())) or any(key.asset_key in MONO_ASSET_KEYS for key in checks or ())


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def finished_run_evaluations(
    instance: dg.DagsterInstance, after: datetime
) -> tuple[list[CheckEvaluation], datetime | None]:
    """Check evaluations of monitored runs finished after `after`, in finishing order; and the newest run's time."""
    records = []
    read_up_to: datetime | None = None  # a job with more runs than one tick reads: the rest wait for the next tick
    for job in MONITORED_JOBS:
        found = instance.get_run_records(
            filters=dg.RunsFilter(
                job_name=job,
                statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE],
                updated_after=after,
            ),
            limit=RUNS_PER_TICK,
            order_by="update_timestamp",
            ascending=True,
        )
        records.extend(found)
        if len(found) >= RUNS_PER_TICK:
            last = _utc(found[-1].update_timestamp)
            read_up_to = last if read_up_to is None else min(read_up_to, last)
    if read_up_to is not None:
        records = [record for record in records if _utc(record.update_timestamp) <= read_up_to]
    records.sort(key=lambda record: _utc(record.update_timestamp))
    evaluations = []
    for record in records:
        run = record.dagster_run
        asset_job = run.job_name == ASSET_JOB
        if asset_job and not may_touch_mono_assets(run):
            continue  # a UI run of another code location's assets
        partition = run_partition(dict(run.tags))
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            if entry.dagster_event is None:
                continue
            data = entry.dagster_event.asset_check_evaluation_data
            if asset_job and data.asset_key not in MONO_ASSET_KEYS:
                continue
            evaluations.append(
                evaluation_from_dagster(
                    data,
                    run_id=run.run_id,
                    job=run.job_name,
                    run_partition=partition,
                )
            )
    newest = _utc(records[-1].update_timestamp) if records else None
    return evaluations, newest


def _read_cursor(cursor: str | None, now: datetime) -> tuple[datetime, int]:
    state = json.loads(cursor) if cursor else {}
    runs_after = datetime.fromtimestamp(state["runs_after"], UTC) if "runs_after" in state else now - FIRST_LOOK_BACK
    return runs_after, int(state.get("latency_after_id", 0))


@dg.sensor(
    name="mono_check_alerts",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Sends failed ERROR asset checks to on-call and WARN ones to chat (check, partition, masked sample); "
        "latency SLA breaches (> 2 s) and zero-transaction streaks to chat as warnings. De-duplicated."
    ),
)
def mono_check_alerts(
    context: dg.SensorEvaluationContext, notifier: NotifierResource, database: DatabaseResource
) -> dg.SensorResult:
    reason = kill_switch_reason()
    if reason is not None:
        return dg.SensorResult(skip_reason=reason)
    now = datetime.now(UTC)
    runs_after, latency_after_id = _read_cursor(context.cursor, now)
    engine = database.get_engine()
    sent: list[str] = []
    errors: list[str] = []

    def send(alert: Alert) -> None:
        try:
            if notifier.send(alert):
                sent.append(alert.dedup_key)
        except Exception as exc:
            errors.append(f"{alert.dedup_key}: {exc}")

    def resolve(key: str) -> None:
        try:
            notifier.resolve(key)
        except Exception as exc:
            errors.append(f"{key}: {exc}")

    evaluations, newest_run = finished_run_evaluations(context.instance, runs_after)
    for evaluation in evaluations:
        if evaluation.passed:
            resolve(evaluation.dedup_key)
        else:
            send(check_alert(evaluation))

    with engine.connect() as conn:
        breaches = latency_breaches(conn, after_id=latency_after_id, since=now - FIRST_LOOK_BACK)
        zeros = zero_transaction_streaks(conn, Settings.from_env().zero_transaction_streak)
    for breach in breaches:
        send(breach.alert)
    for alert in zeros.warnings:
        send(alert)
    for key in zeros.ended:
        resolve(key)

    for key in sent:
        context.log.warning(f"alert sent: {key}")
    cursor = {
        "runs_after": (newest_run or runs_after).timestamp(),
        "latency_after_id": breaches[-1].event_id if breaches else latency_after_id,
    }
    if errors:
        # Failed keys stay unsent and are retried next tick; the cursor is not advanced past them.
        raise dg.Failure(description="notification delivery failed: " + "; ".join(errors))
    message = (
        f"{len(evaluations)} check evaluation(s), {len(breaches)} latency breach(es), "
        f"{len(zeros.warnings)} zero-transaction streak(s): {len(sent)} alert(s) sent"
    )
    return dg.SensorResult(skip_reason=message, cursor=json.dumps(cursor))
