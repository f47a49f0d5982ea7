"""Raw payload retention: pages older than `MONO_RAW_RETENTION_DAYS` (default 30) are purged daily.

Canonical and persisted records keep their `raw_page_id` lineage; after the purge it points at a page
that is gone, which is the retention policy working, not a broken link.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from mono_dagster.defs.kill_switch import run_unless_switched_off
from mono_dagster.defs.resources import DatabaseResource
from mono_dagster.settings import Settings
from mono_dagster.storage.raw_pages import purge_raw_pages


class PurgeConfig(dg.Config):
    retention_days: int | None = None  # None: the MONO_RAW_RETENTION_DAYS setting


@dg.op(description="Deletes raw Mono pages fetched before the retention horizon.")
def purge_expired_raw_pages(context: dg.OpExecutionContext, config: PurgeConfig, database: DatabaseResource) -> int:
    days = config.retention_days or Settings.from_env().raw_retention_days
    horizon = datetime.now(UTC) - timedelta(days=days)
    with database.get_engine().begin() as conn:
        purged = purge_raw_pages(conn, horizon)
    context.log.info(f"purged {purged} raw page(s) fetched before {horizon.isoformat()} ({days} days)")
    context.add_output_metadata({"purged_pages": purged, "retention_days": days})
    return purged


@dg.job(description="Purges raw Mono payloads past their retention period.", tags={"provider": "mono"})
def raw_retention_job() -> None:
    purge_expired_raw_pages()


@dg.schedule(
    name="mono_raw_retention_daily",
    job=raw_retention_job,
    cron_schedule="30 3 * * *",
    execution_timezone="Africa/Lagos",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily 03:30 Lagos time: purges raw Mono pages older than the retention period.",
)
def raw_retention_schedule(context: dg.ScheduleEvaluationContext) -> dg.SkipReason | dg.RunRequest:
    # The kill switch promises that no stored data is touched, so the purge stops too.
    return run_unless_switched_off()
