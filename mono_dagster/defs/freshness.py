"""The per-account freshness check: an active account with no successful sync in 26 hours.

It runs on its own schedule, not after a materialisation, because a check that only runs after a
run cannot notice the runs that never happened.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from mono_dagster.defs import names
from mono_dagster.defs.kill_switch import run_unless_switched_off
from mono_dagster.defs.persisted_asset import bank_transactions
from mono_dagster.defs.resources import DatabaseResource
from mono_dagster.storage.reconciliation import accounts_without_recent_success

FRESHNESS_LIMIT = timedelta(hours=26)


@dg.asset_check(
    asset=bank_transactions,
    name=names.FRESHNESS_CHECK,
    description="Every active account had a successful sync within the last 26 hours.",
    blocking=False,
)
def accounts_synced_within_26_hours(database: DatabaseResource) -> dg.AssetCheckResult:
    with database.get_engine().connect() as conn:
        stale = accounts_without_recent_success(conn, datetime.now(UTC), FRESHNESS_LIMIT)
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"stale_accounts": len(stale), "sample": stale[:50], "limit_hours": 26},
    )


freshness_check_job = dg.define_asset_job(
    "mono_freshness_check_job",
    selection=dg.AssetSelection.checks(accounts_synced_within_26_hours),
    description="Runs the per-account freshness check.",
)


@dg.schedule(
    name="mono_freshness_check_hourly",
    job=freshness_check_job,
    cron_schedule="17 * * * *",
    execution_timezone="Africa/Lagos",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: flags active accounts with no successful sync in 26 hours (skips under the kill switch).",
)
def freshness_check_schedule(context: dg.ScheduleEvaluationContext) -> dg.SkipReason | dg.RunRequest:
    return run_unless_switched_off()
