"""Account discovery: registers newly linked Mono accounts and requests their initial backfill.

Every hour it lists `GET /v2/accounts` (paged), applies `MONO_ACCOUNT_ALLOWLIST`/`DENYLIST`, registers
new accounts on their shard, and requests one resync run per new account over the last
`MONO_INITIAL_BACKFILL_DAYS` (default 90) days. An account Mono no longer lists is marked unlinked: it
stops being synced and keeps its history. The kill switch makes it skip.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from mono_dagster.defs.jobs import mono_sync_job
from mono_dagster.defs.kill_switch import kill_switch_reason
from mono_dagster.defs.launch import partition_range_tags, sync_config
from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.defs.run_identity import CORRELATION_TAG, correlation_id_for_run
from mono_dagster.pipeline.accounts import sync_registry
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import list_accounts


@dg.sensor(
    name="mono_account_discovery",
    job=mono_sync_job,
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Registers newly linked Mono accounts, requests their initial backfill, unlinks vanished ones.",
)
def mono_account_discovery(
    context: dg.SensorEvaluationContext, mono: MonoResource, database: DatabaseResource
) -> dg.SensorResult | dg.SkipReason:
    reason = kill_switch_reason()
    if reason is not None:
        return dg.SkipReason(reason)
    settings = Settings.from_env()
    engine = database.get_engine()
    with mono.build_client() as client:
        synced = sync_registry(
            client,
            engine,
            shard_count=settings.shard_count,
            allow=Settings.id_set(settings.account_allowlist),
            deny=Settings.id_set(settings.account_denylist),
        )
    if synced.unlinked_ids:
        context.log.warning(f"marked unlinked (no longer listed by Mono): {', '.join(synced.unlinked_ids)}")
    if not synced.new_ids:
        return dg.SkipReason(f"{synced.listed} account(s) listed by Mono, none new")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    start = max(yesterday - timedelta(days=settings.initial_backfill_days - 1), settings.partitions_start_date)
    with engine.connect() as conn:
        rows = list_accounts(conn, account_ids=list(synced.new_ids))
    requests = []
    for row in rows:
        run_key = f"initial-backfill:{row.account_id}"
        requests.append(
            dg.RunRequest(
                run_key=run_key,
                run_config=sync_config([row.account_id], console_log_level="INFO"),
                tags={
                    **partition_range_tags(start, yesterday, row.shard),
                    CORRELATION_TAG: correlation_id_for_run(run_key),
                    "mono/reason": "initial-backfill",
                },
            )
        )
    context.log.info(f"{len(requests)} new account(s): initial backfill {start}..{yesterday} requested")
    return dg.SensorResult(run_requests=requests)
