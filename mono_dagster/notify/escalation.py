"""Failure-streak escalation: at 5 consecutive failures (the RFC's threshold) page on-call once per streak.

Two streaks are watched. An account's streak is the registry's `failure_streak` (the sync adds one per
failed fetch and the persist step resets it on success), since one shard run syncs many accounts. A
shard's streak is its consecutive failed sync runs: `mono_sync_job` runs and the UI's runs of that one
shard (the caller reads them from Dagster's run history), which catches what no account streak shows:
crashes, a bad config, a failing check. A shard escalation is held back while an account on that shard
is escalated itself, so one broken account pages once, not twice.

An escalation is an ERROR log line, a `mono.sync.escalated` event in `pipeline_events` and an on-call
`Alert` carrying the escalation payload. Its de-duplication key is stable per account or shard, so it is
sent once; when the streak ends (a success), the key is resolved (PagerDuty incident resolved,
`mono.sync.escalation_resolved` event) and the next streak pages again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from mono_dagster.notify.alert import Alert
from mono_dagster.notify.resource import NotifierResource
from mono_dagster.notify.scrubbing import scrubbed_details
from mono_dagster.pipeline import events
from mono_dagster.storage.accounts import AccountRow, list_accounts
from mono_dagster.storage.notifications import NotificationRow, open_notifications
from mono_dagster.storage.outbox import PipelineEvent, append_events
from mono_dagster.storage.tables import mono_fetches

log = logging.getLogger(__name__)

ACCOUNT_KEY_PREFIX = f"{events.SYNC_ESCALATED}:account:"
SHARD_KEY_PREFIX = f"{events.SYNC_ESCALATED}:shard:"
SENSOR_RUN_ID = "mono_failure_streak"  # pipeline_events.run_id of events no pipeline run wrote
RUNBOOK = "docs/operations.md#escalations-and-notifications"
# The RFC's troubleshooting row for `mono.fetch.failed` events with increasing `failures`.
LIKELY_CAUSE = "Mono API outage / credential issues"
DIAGNOSTICS = "Check taxpoynt_mono_pipeline_errors_total labels; verify the Mono secret key is current"
MITIGATION = "Rotate tokens, enable backoff override, notify Mono support if persistent"
_NAMESPACE = uuid.UUID("6f1d7f0c-1b9a-4d8e-a3c4-2f0e5d9b7a61")


@dataclass(frozen=True)
class ShardRunOutcome:
    """One finished sync run that covered the shard."""

    run_id: str
    shard: int
    failed: bool
    correlation_id: str
    ended_at: datetime | None = None
    error: str | None = None
    job: str = "mono_sync_job"  # or `__ASSET_JOB`, for a run launched from the UI


@dataclass(frozen=True)
class ShardStreak:
    shard: int
    failed_runs: tuple[ShardRunOutcome, ...]  # the current streak, newest first
    last_success: ShardRunOutcome | None = None

    @property
    def failures(self) -> int:
        return len(self.failed_runs)


@dataclass
class EscalationReport:
    raised: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    delivery_errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [
            f"{len(self.raised)} escalation(s) raised",
            f"{len(self.resolved)} resolved",
            f"{len(self.still_open)} still open",
        ]
        if self.delivery_errors:
            parts.append(f"{len(self.delivery_errors)} delivery error(s)")
        return ", ".join(parts)


def shard_streaks(runs_newest_first: Iterable[ShardRunOutcome]) -> dict[int, ShardStreak]:
    """Each shard's consecutive failed runs, counted from its newest run back to its last success."""
    failed: dict[int, list[ShardRunOutcome]] = {}
    success: dict[int, ShardRunOutcome] = {}
    for run in runs_newest_first:
        if run.shard in success:
            continue
        if run.failed:
            failed.setdefault(run.shard, []).append(run)
        else:
            success[run.shard] = run
            failed.setdefault(run.shard, [])
    return {shard: ShardStreak(shard, tuple(runs), success.get(shard)) for shard, runs in failed.items()}


def account_key(account_id: str) -> str:
    return ACCOUNT_KEY_PREFIX + account_id


def shard_key(shard: int) -> str:
    return f"{SHARD_KEY_PREFIX}{shard:02d}"


def evaluate_escalations(
    engine: Engine,
    notifier: NotifierResource,
    streaks: Mapping[int, ShardStreak],
    *,
    threshold: int = events.FAILURE_STREAK_ESCALATION,
) -> EscalationReport:
    """Raises the escalations that are due and resolves the ones whose streak ended; safe to repeat."""
    report = EscalationReport()
    with engine.connect() as conn:
        accounts = list_accounts(conn, statuses=None)
        open_accounts = {row.dedup_key: row for row in open_notifications(conn, ACCOUNT_KEY_PREFIX)}
        open_shards = {row.dedup_key: row for row in open_notifications(conn, SHARD_KEY_PREFIX)}
    escalated_accounts = [a for a in accounts if a.status == "active" and a.failure_streak >= threshold]
    for account in escalated_accounts:
        key = account_key(account.account_id)
        ended = _streak_ended_since(open_accounts.pop(key, None), account.last_success_at)
        _escalate(engine, notifier, report, key, ended, lambda a=account: _account_alert(engine, a, threshold))
    for key, row in open_accounts.items():  # streak reset by a success, or the account is no longer synced
        _resolve(engine, notifier, report, row, account_id=key.removeprefix(ACCOUNT_KEY_PREFIX))

    held_back = {account.shard for account in escalated_accounts}
    for shard, streak in sorted(streaks.items()):
        if streak.failures < threshold:
            continue
        key = shard_key(shard)
        row = open_shards.pop(key, None)
        if row is None and shard in held_back:
            continue  # the account escalation already says why this shard fails
        last_success = streak.last_success.ended_at if streak.last_success else None
        ended = _streak_ended_since(row, last_success)
        _escalate(engine, notifier, report, key, ended, lambda s=streak: _shard_alert(s, threshold))
    for _key, row in open_shards.items():
        _resolve(engine, notifier, report, row, account_id=None)
    return report


def _streak_ended_since(row: NotificationRow | None, last_success_at: datetime | None) -> NotificationRow | None:
    """The open escalation when a success came after it was raised (a new streak began); else None."""
    if row is not None and last_success_at is not None and last_success_at > row.opened_at:
        return row
    return None


def _escalate(
    engine: Engine,
    notifier: NotifierResource,
    report: EscalationReport,
    key: str,
    previous_streak: NotificationRow | None,
    build: Callable[[], tuple[Alert, PipelineEvent]],
) -> None:
    try:
        if previous_streak is not None:
            _resolve(engine, notifier, report, previous_streak, account_id=previous_streak.details.get("account_id"))
        alert, event = build()
        if not notifier.send(alert):
            report.still_open.append(key)
            return
    except Exception as exc:
        log.error("escalation %s could not be delivered: %s", key, exc)
        report.delivery_errors.append(f"{key}: {exc}")
        return
    with engine.begin() as conn:
        append_events(conn, [event])
    log.error("ESCALATION %s: %s", key, alert.summary)
    report.raised.append(key)


def _resolve(
    engine: Engine, notifier: NotifierResource, report: EscalationReport, row: NotificationRow, *, account_id: Any
) -> None:
    try:
        notifier.resolve(row.dedup_key)
    except Exception as exc:
        log.error("escalation %s could not be resolved: %s", row.dedup_key, exc)
        report.delivery_errors.append(f"{row.dedup_key}: {exc}")
        return
    event = PipelineEvent(
        event_name=events.SYNC_ESCALATION_RESOLVED,
        account_id=account_id if isinstance(account_id, str) else None,
        correlation_id=str(row.details.get("correlation_id") or _correlation(row.dedup_key, row.opened_at)),
        run_id=SENSOR_RUN_ID,
        partition_key=_partition(row.details.get("shard")),
        payload={
            "dedup_key": row.dedup_key,
            "scope": row.details.get("scope"),
            "escalated_at": row.opened_at.isoformat(),
            "failures_at_escalation": row.details.get("failures"),
        },
    )
    with engine.begin() as conn:
        append_events(conn, [event])
    log.info("escalation %s resolved: the streak ended", row.dedup_key)
    report.resolved.append(row.dedup_key)


def _account_alert(engine: Engine, account: AccountRow, threshold: int) -> tuple[Alert, PipelineEvent]:
    with engine.connect() as conn:
        fetch = (
            conn.execute(
                sa.select(mono_fetches)
                .where(mono_fetches.c.account_id == account.account_id, mono_fetches.c.status == "failed")
                .order_by(mono_fetches.c.id.desc())
                .limit(1)
            )
            .mappings()
            .one_or_none()
        )
    key = account_key(account.account_id)
    run_id = fetch["run_id"] if fetch else SENSOR_RUN_ID
    correlation_id = fetch["correlation_id"] if fetch else _correlation(key, account.last_attempt_at)
    payload = _payload(
        scope="account",
        failures=account.failure_streak,
        threshold=threshold,
        account_id=account.account_id,
        account_number_masked=account.account_number_masked,
        institution=account.institution,
        tenant=account.tenant,
        shard=account.shard,
        last_error=account.last_error,
        last_attempt_at=account.last_attempt_at,
        last_success_at=account.last_success_at,
        last_failed_window=f"{fetch['window_start']}..{fetch['window_end']}" if fetch else None,
        run_id=run_id,
        correlation_id=correlation_id,
        component="mono_raw_transactions",
    )
    who = account.account_id + (f" ({account.account_number_masked})" if account.account_number_masked else "")
    summary = (
        f"Mono sync of account {who} failed {account.failure_streak} times in a row "
        f"(threshold {threshold}): {(account.last_error or 'no error recorded')[:200]}"
    )
    return _alert_and_event(key, "error", summary, payload, account.account_id, run_id, correlation_id)


def _shard_alert(streak: ShardStreak, threshold: int) -> tuple[Alert, PipelineEvent]:
    latest = streak.failed_runs[0]
    key = shard_key(streak.shard)
    payload = _payload(
        scope="shard",
        failures=streak.failures,
        threshold=threshold,
        shard=streak.shard,
        last_error=latest.error,
        last_attempt_at=latest.ended_at,
        last_success_at=streak.last_success.ended_at if streak.last_success else None,
        failed_run_ids=[run.run_id for run in streak.failed_runs[:10]],
        run_id=latest.run_id,
        correlation_id=latest.correlation_id,
        component=latest.job,
    )
    summary = (
        f"Sync runs of shard {streak.shard:02d} failed {streak.failures} times in a row "
        f"(threshold {threshold}): {(latest.error or 'run failed')[:200]}"
    )
    return _alert_and_event(key, "critical", summary, payload, None, latest.run_id, latest.correlation_id)


def _payload(**values: Any) -> dict[str, Any]:
    """The escalation payload: the RFC's `failures` count and threshold, who and where, the last error,
    the run and correlation ids to follow, and the RFC playbook's cause and mitigation."""
    return {
        "event": events.SYNC_ESCALATED,
        "provider": "mono",
        **values,
        "group": _partition(values.get("shard")),
        "class": events.SYNC_ESCALATED,
        "likely_cause": LIKELY_CAUSE,
        "diagnostics": DIAGNOSTICS,
        "mitigation": MITIGATION,
        "runbook": RUNBOOK,
    }


def _alert_and_event(
    key: str,
    severity: str,
    summary: str,
    payload: dict[str, Any],
    account_id: str | None,
    run_id: str,
    correlation_id: str,
) -> tuple[Alert, PipelineEvent]:
    details = scrubbed_details(payload)
    alert = Alert(dedup_key=key, severity=severity, route="oncall", summary=summary, details=details)  # type: ignore[arg-type]
    event = PipelineEvent(
        event_name=events.SYNC_ESCALATED,
        account_id=account_id,
        correlation_id=correlation_id,
        run_id=run_id,
        partition_key=_partition(payload.get("shard")),
        payload=details,
    )
    return alert, event


def _partition(shard: Any) -> str | None:
    return f"shard-{int(shard):02d}" if isinstance(shard, int) else None


def _correlation(key: str, at: datetime | None) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{key}@{at.isoformat() if at else ''}"))


__all__: Sequence[str] = [
    "EscalationReport",
    "ShardRunOutcome",
    "ShardStreak",
    "account_key",
    "evaluate_escalations",
    "shard_key",
    "shard_streaks",
]
