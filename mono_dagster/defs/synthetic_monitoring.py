"""The RFC's synthetic fetch every 30 minutes (Africa/Lagos), paging on-call after two failures in a row.

`mono_synthetic_check` launches `mono_synthetic_check_job` for the account named by
`MONO_SYNTHETIC_ACCOUNT_ID` (sandbox credentials in staging), over the last `MONO_SYNTHETIC_WINDOW_DAYS`
days (default 1). It skips with the reason shown when no account is configured, and when the kill
switch is off. The job stores no transaction data: only its row in `synthetic_checks`
(`pipeline/synthetic.py`). A failed fetch does not fail the run (the check itself worked, and
recorded the failure); the page is the alert.
"""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from mono_dagster.defs.kill_switch import kill_switch_reason
from mono_dagster.defs.metrics_push import PUSH_METRICS_HOOKS
from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.notify.resource import NotifierResource
from mono_dagster.pipeline.synthetic import run_synthetic_check, synthetic_window
from mono_dagster.settings import Settings

SYNTHETIC_JOB = "mono_synthetic_check_job"
SYNTHETIC_OP = "mono_synthetic_fetch"
SYNTHETIC_CRON = "*/30 * * * *"
NOT_CONFIGURED = "MONO_SYNTHETIC_ACCOUNT_ID is not set: no synthetic account to fetch; nothing was launched"


class SyntheticCheckConfig(dg.Config):
    account_id: str = Field(default="", description="Mono account id to fetch; empty: MONO_SYNTHETIC_ACCOUNT_ID.")
    window_days: int = Field(default=0, ge=0, description="Days before today to fetch; 0: MONO_SYNTHETIC_WINDOW_DAYS.")


@dg.op(
    name=SYNTHETIC_OP,
    description="Fetches the synthetic account's recent window through the real client; records and pages.",
    tags={"provider": "mono"},
)
def mono_synthetic_fetch(
    context: dg.OpExecutionContext,
    config: SyntheticCheckConfig,
    mono: MonoResource,
    database: DatabaseResource,
    notifier: NotifierResource,
) -> dg.Output[bool]:
    settings = Settings.from_env()
    account_id = config.account_id or settings.synthetic_account_id
    if not account_id:
        raise dg.Failure(description=NOT_CONFIGURED)
    window = synthetic_window(datetime.now(UTC), config.window_days or settings.synthetic_window_days)
    row = run_synthetic_check(
        mono.get_client(), database.get_engine(), notifier, account_id, window, run_id=context.run_id
    )
    outcome = "success" if row.ok else f"failure {row.consecutive_failures} in a row ({row.error_class})"
    context.log.info(f"synthetic fetch of {account_id} over {window}: {outcome}, {row.latency_seconds:.3f} s")
    return dg.Output(
        row.ok,
        metadata={
            "account_id": account_id,
            "window": str(window),
            "ok": row.ok,
            "latency_seconds": round(row.latency_seconds, 3),
            "transactions": row.transaction_count,
            "consecutive_failures": row.consecutive_failures,
            "paged": row.paged,
            "error": row.error,
            "alert_error": row.alert_error,
        },
    )


@dg.job(
    name=SYNTHETIC_JOB,
    description="The RFC's synthetic fetch of one designated account; pages on-call after two failures in a row.",
    tags={"provider": "mono"},
    hooks=PUSH_METRICS_HOOKS,  # its latency and outcome reach the Pushgateway like the sync's
)
def mono_synthetic_check_job() -> None:
    mono_synthetic_fetch()


@dg.schedule(
    name="mono_synthetic_check",
    job=mono_synthetic_check_job,
    cron_schedule=SYNTHETIC_CRON,
    execution_timezone="Africa/Lagos",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 30 minutes: a synthetic fetch of MONO_SYNTHETIC_ACCOUNT_ID (skips when it is not set).",
    tags={"provider": "mono"},
)
def mono_synthetic_check(context: dg.ScheduleEvaluationContext) -> dg.SkipReason | dg.RunRequest:
    reason = kill_switch_reason()
    settings = Settings.from_env()
    if reason is None and not settings.synthetic_account_id:
        reason = NOT_CONFIGURED
    if reason is not None:
        context.log.info(reason)
        return dg.SkipReason(reason)
    scheduled = (context.scheduled_execution_time or datetime.now(UTC)).astimezone(UTC)
    config = {"account_id": settings.synthetic_account_id, "window_days": settings.synthetic_window_days}
    return dg.RunRequest(
        run_key=f"synthetic:{scheduled.strftime('%Y-%m-%dT%H:%MZ')}",
        run_config={"ops": {SYNTHETIC_OP: {"config": config}}},
        tags={"mono/synthetic_account": settings.synthetic_account_id},
    )
