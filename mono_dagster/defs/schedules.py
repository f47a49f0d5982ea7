"""The daily sync: yesterday plus a look-back window, one run per shard covering the whole window.

Runs at `MONO_DAILY_SYNC_CRON` (default 02:00) Africa/Lagos time. The look-back (`MONO_LOOKBACK_DAYS`,
default 7) re-fetches late and changed transactions; the upsert makes that free of duplicates.
`MONO_INGESTION_ENABLED=false` (the RFC's kill switch) makes every tick skip with the reason shown in
the UI, touching no stored data.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from mono_dagster.defs.jobs import mono_sync_job
from mono_dagster.defs.kill_switch import kill_switch_reason
from mono_dagster.defs.launch import partition_range_tags
from mono_dagster.defs.partitions import SHARD_COUNT
from mono_dagster.defs.run_identity import CORRELATION_TAG, correlation_id_for_run
from mono_dagster.settings import Settings

_settings = Settings.from_env()
LAGOS = "Africa/Lagos"


def daily_run_requests(scheduled: datetime, lookback_days: int) -> list[dg.RunRequest]:
    # Partitions are UTC days; "yesterday" is the last complete UTC day before the tick.
    yesterday = scheduled.astimezone(UTC).date() - timedelta(days=1)
    start = yesterday - timedelta(days=lookback_days)
    requests = []
    for shard in range(SHARD_COUNT):
        run_key = f"daily:{yesterday.isoformat()}:shard-{shard:02d}"
        tags = {**partition_range_tags(start, yesterday, shard), CORRELATION_TAG: correlation_id_for_run(run_key)}
        requests.append(dg.RunRequest(run_key=run_key, tags=tags))
    return requests


@dg.schedule(
    name="mono_daily_sync",
    job=mono_sync_job,
    cron_schedule=_settings.daily_sync_cron,
    execution_timezone=LAGOS,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily: yesterday plus the look-back window, for every active account, one run per shard.",
    tags={"provider": "mono"},
)
def mono_daily_sync(context: dg.ScheduleEvaluationContext) -> dg.SkipReason | list[dg.RunRequest]:
    reason = kill_switch_reason()
    if reason is not None:
        context.log.warning(reason)
        return dg.SkipReason(reason)
    return daily_run_requests(context.scheduled_execution_time, Settings.from_env().lookback_days)
