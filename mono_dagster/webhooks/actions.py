"""What each Mono webhook event does, as plain Python: the inbox sensor's work without Dagster.

Rows are taken in arrival order. For each: first whatever touches the outside world and is safe to
repeat (Mono's account details, the de-duplicated on-call alert), then ONE database transaction that
claims the row, changes the account registry and records the outcome, including the run the event asks
for. A crash before the commit leaves the row unprocessed (it is acted on again, and the outside calls
repeat harmlessly); after it, the run is found again by `runs_requested_since` and re-requested under
the same run key, which Dagster launches once.

| event | effect |
| --- | --- |
| account_connected | register the account, request its initial backfill |
| account_updated | request a resync of the last `MONO_WEBHOOK_RESYNC_DAYS` days (an active account only) |
| reauthorisation_required | pause the account, page on-call |
| account_reauthorized | make the account active again, resolve the page |
| account_unlinked | mark it unlinked (no longer synced, history kept), resolve any page |
| anything else | kept, marked ignored |
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import Engine

from mono_dagster.mono import MonoClient
from mono_dagster.mono.account_ids import describe_value, is_valid_account_id
from mono_dagster.mono.errors import MonoNotFoundError
from mono_dagster.observability.scrub import scrub_text
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import (
    AccountRecord,
    AccountRow,
    list_accounts,
    mask_account_number,
    register_accounts,
    set_account_status,
    shard_for,
)
from mono_dagster.storage.webhook_inbox import (
    InboxRow,
    claim,
    record_failed_attempt,
    record_outcome,
    unprocessed,
)
from mono_dagster.webhooks import events

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # after this many failed attempts a row is marked failed, so one bad row cannot block the inbox
NOT_READY_STATUSES = frozenset({"processing", "failed", "unavailable"})  # meta.data_status: nothing new to fetch


class AccountAlerts(Protocol):
    def reauthorisation_required(self, account_id: str, event_name: str) -> None: ...

    def reauthorisation_over(self, account_id: str) -> None: ...


@dataclass(frozen=True)
class RunSpec:
    """A sync run an event asks for: one account, one window, on the account's shard."""

    run_key: str
    reason: str  # "initial-backfill" | "webhook-resync"
    account_id: str
    shard: int
    start: date
    end: date

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "start": self.start.isoformat(), "end": self.end.isoformat()})

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        values = json.loads(text)
        return cls(**{**values, "start": date.fromisoformat(values["start"]), "end": date.fromisoformat(values["end"])})


@dataclass(frozen=True)
class Outcome:
    outcome: str
    detail: str
    run: RunSpec | None = None


@dataclass(frozen=True)
class Processed:
    row_id: int
    event_name: str
    account_id: str | None
    outcome: Outcome


@dataclass
class InboxWork:
    """Everything acting on the inbox needs; `client` is called only when an event needs Mono."""

    engine: Engine
    settings: Settings
    client: Callable[[], MonoClient]
    alerts: AccountAlerts
    yesterday: date


@dataclass
class TickResult:
    processed: list[Processed] = field(default_factory=list)
    stopped: str | None = None  # why the tick stopped before the end of the inbox (a row to retry)

    @property
    def runs(self) -> list[RunSpec]:
        return unique_runs(item.outcome.run for item in self.processed if item.outcome.run is not None)


def unique_runs(runs: Any) -> list[RunSpec]:
    """Runs by key, first occurrence wins (rows that joined another row's run share its key)."""
    found: dict[str, RunSpec] = {}
    for run in runs:
        found.setdefault(run.run_key, run)
    return list(found.values())


@dataclass(frozen=True)
class _Plan:
    outcome: Outcome
    apply: Callable[[sa.Connection], None] | None = None


def process_inbox(work: InboxWork, at: datetime, *, limit: int = 100) -> TickResult:
    """Acts on up to `limit` unprocessed rows in order; stops at a row that fails (it is retried next time)."""
    with work.engine.connect() as conn:
        rows = unprocessed(conn, limit)
    result = TickResult()
    resyncs: dict[str, RunSpec] = {}  # account -> this tick's resync: repeated account_updated events share it
    for row in rows:
        try:
            outcome = _act(work, row, at, resyncs)
        except Exception as exc:
            error = scrub_text(f"{exc.__class__.__name__}: {exc}")
            attempts = _record_failure(work.engine, row, error, at)
            if attempts < MAX_ATTEMPTS:
                result.stopped = f"inbox row {row.id} ({row.event_name}) failed, attempt {attempts}: {error}"
                break
            log.error("gave up on inbox row %s (%s) after %s attempts: %s", row.id, row.event_name, attempts, error)
            outcome = Outcome("failed", f"gave up after {attempts} attempts: {error}")
        if outcome is not None:
            result.processed.append(Processed(row.id, row.event_name, row.account_id, outcome))
            if outcome.run is not None:
                resyncs.setdefault(outcome.run.account_id, outcome.run)
    return result


def _record_failure(engine: Engine, row: InboxRow, error: str, at: datetime) -> int:
    with engine.begin() as conn:
        attempts = record_failed_attempt(conn, row.id, error)
        if attempts >= MAX_ATTEMPTS and claim(conn, row.id, at):
            record_outcome(conn, row.id, "failed", f"gave up after {attempts} attempts: {error}")
    return attempts


def _act(work: InboxWork, row: InboxRow, at: datetime, resyncs: dict[str, RunSpec]) -> Outcome | None:
    plan = _plan(work, row, resyncs)
    with work.engine.begin() as conn:
        if not claim(conn, row.id, at):
            return None  # another evaluation processed it meanwhile
        if plan.apply is not None:
            plan.apply(conn)
        run = plan.outcome.run
        record_outcome(conn, row.id, plan.outcome.outcome, plan.outcome.detail, run.to_json() if run else None)
    return plan.outcome


def _plan(work: InboxWork, row: InboxRow, resyncs: dict[str, RunSpec]) -> _Plan:
    event = row.event_name.strip().lower()
    planner = _PLANNERS.get(event)
    if planner is None:
        return _Plan(Outcome("ignored", f"no action for {row.event_name}"))
    if row.account_id is None:
        return _Plan(Outcome("ignored", "the event names no account"))
    if not is_valid_account_id(row.account_id):  # never registered, never put in a Mono URL
        return _Plan(Outcome("ignored", f"{describe_value(row.account_id)} is not a Mono account id"))
    return planner(work, row, row.account_id, resyncs)


def _registered(work: InboxWork, account_id: str) -> AccountRow | None:
    with work.engine.connect() as conn:
        rows = list_accounts(conn, statuses=None, account_ids=[account_id])
    return rows[0] if rows else None


def _window(work: InboxWork, days: int) -> tuple[date, date]:
    end = work.yesterday
    return max(end - timedelta(days=days - 1), work.settings.partitions_start_date), end


def _connected(work: InboxWork, row: InboxRow, account_id: str, _resyncs: dict[str, RunSpec]) -> _Plan:
    allow = Settings.id_set(work.settings.account_allowlist)
    if account_id in Settings.id_set(work.settings.account_denylist) or (allow and account_id not in allow):
        return _Plan(Outcome("ignored", "excluded by MONO_ACCOUNT_ALLOWLIST / MONO_ACCOUNT_DENYLIST"))
    existing = _registered(work, account_id)
    if existing is not None and existing.status != "unlinked":
        return _Plan(Outcome("ignored", f"already registered ({existing.status})"))
    try:
        details = work.client().get_account(account_id)
    except MonoNotFoundError:
        return _Plan(Outcome("ignored", "Mono does not know the account (404)"))
    record = AccountRecord(
        account_id=account_id,
        account_number_masked=mask_account_number(details.account_number),
        institution=details.institution,
        currency=details.currency,
    )
    shard = existing.shard if existing is not None else shard_for(account_id, work.settings.shard_count)
    start, end = _window(work, work.settings.initial_backfill_days)
    run = RunSpec(f"initial-backfill:{account_id}:{row.id}", "initial-backfill", account_id, shard, start, end)

    def apply(conn: sa.Connection) -> None:
        register_accounts(conn, [record], work.settings.shard_count)  # a relinked (unlinked) account becomes active

    return _Plan(Outcome("registered", f"registered on shard {shard}; initial backfill {start}..{end}", run), apply)


def _updated(work: InboxWork, row: InboxRow, account_id: str, resyncs: dict[str, RunSpec]) -> _Plan:
    existing = _registered(work, account_id)
    if existing is None:
        return _Plan(Outcome("ignored", "not registered (account_connected or discovery registers accounts)"))
    if existing.status != "active":
        return _Plan(Outcome("ignored", f"the account is {existing.status}"))
    status = _data_status(row.payload)
    if status is not None and status.lower() in NOT_READY_STATUSES:
        return _Plan(Outcome("ignored", f"data_status {status}: Mono has no new data to fetch yet"))
    joined = resyncs.get(account_id)
    if joined is not None:
        return _Plan(Outcome("resync_requested", f"joins {joined.run_key}", joined))
    start, end = _window(work, work.settings.webhook_resync_days)
    run = RunSpec(f"webhook-resync:{account_id}:{row.id}", "webhook-resync", account_id, existing.shard, start, end)
    return _Plan(Outcome("resync_requested", f"resync {start}..{end} on shard {existing.shard}", run))


def _reauthorisation_required(work: InboxWork, row: InboxRow, account_id: str, _resyncs: dict[str, RunSpec]) -> _Plan:
    existing = _registered(work, account_id)
    if existing is None or existing.status == "unlinked":
        return _Plan(Outcome("ignored", "not registered" if existing is None else "the account is unlinked"))
    work.alerts.reauthorisation_required(account_id, row.event_name)  # de-duplicated: safe to repeat
    detail = "already paused; on-call notified" if existing.status == "paused" else "paused; on-call notified"
    return _Plan(Outcome("paused", detail), lambda conn: set_account_status(conn, account_id, "paused"))


def _reauthorized(work: InboxWork, row: InboxRow, account_id: str, _resyncs: dict[str, RunSpec]) -> _Plan:
    existing = _registered(work, account_id)
    if existing is None or existing.status == "unlinked":
        return _Plan(Outcome("ignored", "not registered" if existing is None else "the account is unlinked"))
    work.alerts.reauthorisation_over(account_id)
    if existing.status == "active":
        return _Plan(Outcome("ignored", "already active"))
    return _Plan(Outcome("resumed", "active again"), lambda conn: set_account_status(conn, account_id, "active"))


def _unlinked(work: InboxWork, row: InboxRow, account_id: str, _resyncs: dict[str, RunSpec]) -> _Plan:
    existing = _registered(work, account_id)
    if existing is None:
        return _Plan(Outcome("ignored", "not registered"))
    if existing.status == "unlinked":
        return _Plan(Outcome("ignored", "already unlinked"))
    work.alerts.reauthorisation_over(account_id)  # a paused account's page is moot once it is unlinked
    return _Plan(
        Outcome("unlinked", "no longer synced; its history is kept"),
        lambda conn: set_account_status(conn, account_id, "unlinked"),
    )


def _data_status(payload: str) -> str | None:
    try:
        document = json.loads(payload)
    except ValueError:
        return None
    data = document.get("data") if isinstance(document, dict) else None
    meta = data.get("meta") if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        return None
    status = meta.get("data_status") or meta.get("dataStatus")
    return status if isinstance(status, str) else None


_PLANNERS: dict[str, Callable[[InboxWork, InboxRow, str, dict[str, RunSpec]], _Plan]] = {
    events.ACCOUNT_CONNECTED: _connected,
    events.ACCOUNT_UPDATED: _updated,
    events.REAUTHORISATION_REQUIRED: _reauthorisation_required,
    events.ACCOUNT_REAUTHORIZED: _reauthorized,
    events.ACCOUNT_UNLINKED: _unlinked,
}
