"""The webhook inbox sensor: turns the Mono webhook deliveries the receiver stored into registry changes
and sync runs (`webhooks/actions.py` says what each event does).

Every 30 seconds it acts on the unprocessed inbox rows in arrival order and requests the runs they ask
for, each under a run key, so Dagster launches each run once. Crash safety: a row's effects and its
outcome commit together; the cursor is the time of the last tick whose runs were returned, and a tick
first re-requests the runs of rows processed after it (a tick that crashed after committing but before
returning). The kill switch makes it skip: deliveries wait in the inbox until ingestion is switched on.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from mono_dagster.defs.jobs import mono_sync_job
from mono_dagster.defs.kill_switch import kill_switch_reason
from mono_dagster.defs.launch import partition_range_tags, sync_config
from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.defs.run_identity import CORRELATION_TAG, correlation_id_for_run
from mono_dagster.notify.resource import NotifierResource
from mono_dagster.settings import Settings
from mono_dagster.storage.webhook_inbox import runs_requested_since
from mono_dagster.webhooks.actions import InboxWork, RunSpec, process_inbox, unique_runs
from mono_dagster.webhooks.alerts import NotifierAlerts

SENSOR_NAME = "mono_webhook_inbox"
ROWS_PER_TICK = 100  # a tick must end well inside Dagster's sensor timeout, Mono calls included
# With no cursor yet (a first tick, or a reset cursor), runs of rows processed this recently are re-requested.
FIRST_TICK_RECOVERY = timedelta(hours=1)


def run_request(spec: RunSpec) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=spec.run_key,
        run_config=sync_config([spec.account_id], console_log_level="INFO"),
        tags={
            **partition_range_tags(spec.start, spec.end, spec.shard),
            CORRELATION_TAG: correlation_id_for_run(spec.run_key),
            "mono/reason": spec.reason,
        },
    )


@dg.sensor(
    name=SENSOR_NAME,
    job=mono_sync_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Acts on Mono webhook deliveries stored by `mono-dagster webhooks serve`: registers connected accounts "
        "(initial backfill), resyncs updated ones, pauses accounts needing reauthorisation (pages on-call), "
        "resumes reauthorised ones, unlinks unlinked ones."
    ),
    tags={"provider": "mono"},
)
def mono_webhook_inbox_sensor(
    context: dg.SensorEvaluationContext,
    mono: MonoResource,
    database: DatabaseResource,
    notifier: NotifierResource,
) -> dg.SensorResult | dg.SkipReason:
    reason = kill_switch_reason()
    if reason is not None:
        return dg.SkipReason(reason)
    now = datetime.now(UTC)
    engine = database.get_engine()
    after = datetime.fromisoformat(context.cursor) if context.cursor else now - FIRST_TICK_RECOVERY
    with engine.connect() as conn:
        recovered = [RunSpec.from_json(str(row.run_request)) for row in runs_requested_since(conn, after)]
    work = InboxWork(
        engine=engine,
        settings=Settings.from_env(),
        client=mono.get_client,
        alerts=NotifierAlerts(notifier),
        yesterday=now.date() - timedelta(days=1),
    )
    tick = process_inbox(work, now, limit=ROWS_PER_TICK)
    for item in tick.processed:
        context.log.info(
            f"inbox row {item.row_id} {item.event_name} account {item.account_id}: "
            f"{item.outcome.outcome} ({item.outcome.detail})"
        )
    if tick.stopped:
        context.log.warning(tick.stopped)
    runs = unique_runs([*recovered, *tick.runs])
    if not runs:
        message = tick.stopped or f"{len(tick.processed)} webhook event(s) processed, no run needed"
        return dg.SensorResult(skip_reason=message, cursor=now.isoformat())
    return dg.SensorResult(run_requests=[run_request(spec) for spec in runs], cursor=now.isoformat())
