"""The code location: every Dagster object of mono-dagster, merged in one `Definitions`."""

from __future__ import annotations

import dagster as dg

from mono_dagster.defs.check_alert_sensor import mono_check_alerts
from mono_dagster.defs.event_relay_schedule import mono_event_relay
from mono_dagster.defs.failure_streak_sensor import mono_failure_streak
from mono_dagster.defs.freshness import (
    accounts_synced_within_26_hours,
    freshness_check_job,
    freshness_check_schedule,
)
from mono_dagster.defs.jobs import mono_sync_job
from mono_dagster.defs.persisted_asset import bank_transactions
from mono_dagster.defs.raw_asset import mono_raw_transactions
from mono_dagster.defs.resources import (
    DatabaseResource,
    MonoResource,
    database_resource_from_environment,
    mono_resource_from_environment,
)
from mono_dagster.defs.retention import raw_retention_job, raw_retention_schedule
from mono_dagster.defs.schedules import mono_daily_sync
from mono_dagster.defs.sensors import mono_account_discovery
from mono_dagster.defs.synthetic_monitoring import mono_synthetic_check, mono_synthetic_check_job
from mono_dagster.defs.webhook_inbox_sensor import mono_webhook_inbox_sensor
from mono_dagster.notify import NotifierResource, notifier_from_environment
from mono_dagster.observability.logs import configure_log_format_from_env
from mono_dagster.observability.metrics_server import start_metrics_server_from_env
from mono_dagster.observability.scrub import install_log_scrubber


def build_definitions(
    mono: MonoResource, database: DatabaseResource, notifier: NotifierResource | None = None
) -> dg.Definitions:
    """The code location with the given resources (tests and tools bind their own)."""
    return dg.Definitions(
        assets=[mono_raw_transactions, bank_transactions],  # the first computes raw and canonical
        asset_checks=[accounts_synced_within_26_hours],
        jobs=[mono_sync_job, freshness_check_job, raw_retention_job, mono_synthetic_check_job],
        schedules=[mono_daily_sync, freshness_check_schedule, raw_retention_schedule, mono_synthetic_check],
        sensors=[
            mono_account_discovery,
            mono_event_relay,
            mono_failure_streak,
            mono_check_alerts,
            mono_webhook_inbox_sensor,
        ],
        resources={"mono": mono, "database": database, "notifier": notifier or notifier_from_environment()},
        # Steps are short next to process start-up (peers.md §4.3), so a run executes in one process.
        executor=dg.in_process_executor,
    )


# Every log record of the code location's processes is scrubbed of secret keys, tokens and account numbers.
install_log_scrubber()
# MONO_LOG_FORMAT=json: the `mono_dagster` loggers of every process loading this write `mono-pipeline` JSON lines.
configure_log_format_from_env()
# /metrics on MONO_METRICS_PORT for the code location server (sensors, schedules); run workers push instead.
start_metrics_server_from_env()
defs = build_definitions(mono_resource_from_environment(), database_resource_from_environment())
