"""Step 1, sync: fetch each account's window from Mono and keep the raw pages exactly as received.

One account's failure never stops the others: it is recorded on the account (failure streak), in
the fetch log and as a `mono.fetch.failed` event, all in one transaction, and the run goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from mono_dagster.mono import DateWindow, MonoClient, MonoError
from mono_dagster.mono.client import FetchResult
from mono_dagster.observability import metrics
from mono_dagster.pipeline import events
from mono_dagster.storage.accounts import AccountRow, record_sync_failure
from mono_dagster.storage.fetch_log import FetchRecord, record_fetch
from mono_dagster.storage.outbox import PipelineEvent, append_events
from mono_dagster.storage.raw_pages import RawPageRecord, store_raw_pages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunIdentity:
    run_id: str
    correlation_id: str
    partition_key: str | None = None


@dataclass(frozen=True)
class AccountSyncOutcome:
    account_id: str
    ok: bool
    transactions: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    restarts: int = 0
    duplicates_dropped: int = 0
    elapsed_seconds: float = 0.0
    slowest_page_seconds: float = 0.0
    failure_streak: int = 0
    error: str | None = None
    counted: bool = True  # False: a failure left out of the streak because the step will retry it
    exception: MonoError | None = field(default=None, compare=False, repr=False)  # what the failure raised


@dataclass(frozen=True)
class SyncSummary:
    window: DateWindow
    outcomes: tuple[AccountSyncOutcome, ...]

    @property
    def failed(self) -> tuple[AccountSyncOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if not outcome.ok)

    @property
    def transactions(self) -> int:
        return sum(outcome.transactions for outcome in self.outcomes)

    @property
    def pages(self) -> int:
        return sum(outcome.pages for outcome in self.outcomes)

    @property
    def requests(self) -> int:
        return sum(outcome.requests for outcome in self.outcomes)

    @property
    def retries(self) -> int:
        return sum(outcome.retries for outcome in self.outcomes)


def sync_accounts(
    client: MonoClient,
    engine: Engine,
    accounts: Sequence[AccountRow],
    window: DateWindow,
    identity: RunIdentity,
    *,
    on_account: Callable[[AccountSyncOutcome], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    count_failure: Callable[[MonoError], bool] = lambda _exc: True,
) -> SyncSummary:
    """`count_failure(exc)` False leaves that failure out of the account's streak (the caller retries it;
    it counts it itself if it ends up not retrying): the escalation sensor never sees a streak grow
    during an outage the step's retry is about to ride out."""
    outcomes: list[AccountSyncOutcome] = []
    for account in accounts:
        started = time.perf_counter()
        started_at = clock()
        try:
            result = client.fetch_transactions(account.account_id, window, tenant=account.tenant)
        except MonoError as exc:
            metrics.observe_stage(account.account_id, "sync", time.perf_counter() - started, ok=False)
            metrics.observe_error(account.account_id, "sync", exc.__class__.__name__)
            outcome = _record_failure(
                engine, account.account_id, window, identity, exc, started_at, clock(), count=count_failure(exc)
            )
            metrics.observe_failure_streak(account.account_id, outcome.failure_streak)
        else:
            outcome = _record_success(engine, result, identity, started_at)
            metrics.observe_stage(account.account_id, "sync", time.perf_counter() - started, ok=True)
            if not result.transactions:
                metrics.observe_zero_transactions(account.account_id)
        outcomes.append(outcome)
        if on_account is not None:
            on_account(outcome)
    return SyncSummary(window, tuple(outcomes))


def _record_success(
    engine: Engine, result: FetchResult, identity: RunIdentity, started_at: datetime
) -> AccountSyncOutcome:
    pages = [
        RawPageRecord(
            account_id=result.account_id,
            window_start=result.window.start,
            window_end=result.window.end,
            page_number=page.page_number,
            response_shape=page.shape,
            payload=page.body,
            transaction_count=page.transaction_count,
            fetched_at=page.fetched_at,
            run_id=identity.run_id,
            correlation_id=identity.correlation_id,
        )
        for page in result.pages
    ]
    outcome = AccountSyncOutcome(
        account_id=result.account_id,
        ok=True,
        transactions=len(result.transactions),
        pages=len(result.pages),
        requests=result.requests,
        retries=result.retries,
        restarts=result.restarts,
        duplicates_dropped=result.duplicates_dropped,
        elapsed_seconds=result.elapsed_seconds,
        slowest_page_seconds=result.slowest_page_seconds,
    )
    notices = _fetch_notices(result, identity)
    account_id, window = result.account_id, result.window
    lifecycle = [
        _fetch_event(events.FETCH_STARTED, account_id, window, identity, started_at=started_at.isoformat()),
        _fetch_event(
            events.FETCH_COMPLETED,
            account_id,
            window,
            identity,
            transactions=outcome.transactions,
            pages=outcome.pages,
            requests=outcome.requests,
            retries=outcome.retries,
            elapsed_seconds=round(outcome.elapsed_seconds, 3),
        ),
    ]
    with engine.begin() as conn:
        page_ids = store_raw_pages(conn, pages)
        record_fetch(conn, _fetch_record(result.account_id, result.window, identity, outcome, page_ids))
        # started, completed, then any warnings about the fetch: one account's events stay in order.
        append_events(conn, [*lifecycle, *notices])
    for notice in notices:
        log.warning(
            "%s for account %s (correlation %s)",
            notice.event_name,
            result.account_id,
            identity.correlation_id,
            extra=_log_context(identity, result.account_id, notice.event_name),
        )
    return outcome


def _fetch_event(
    name: str, account_id: str, window: DateWindow, identity: RunIdentity, **payload: object
) -> PipelineEvent:
    """One of the fetch's outbox events: the run's identity, the window, and what the event adds."""
    return PipelineEvent(
        event_name=name,
        account_id=account_id,
        correlation_id=identity.correlation_id,
        run_id=identity.run_id,
        partition_key=identity.partition_key,
        payload={**events.window_payload(window.start, window.end), **payload},
    )


def _fetch_notices(result: FetchResult, identity: RunIdentity) -> list[PipelineEvent]:
    notices = []
    if not result.transactions:
        notices.append(
            _fetch_event(
                events.FETCH_ZERO_TRANSACTIONS, result.account_id, result.window, identity, pages=len(result.pages)
            )
        )
    if result.slowest_page_seconds > events.LATENCY_SLA_SECONDS:
        notices.append(
            _fetch_event(
                events.FETCH_LATENCY_SLA_EXCEEDED,
                result.account_id,
                result.window,
                identity,
                slowest_page_seconds=round(result.slowest_page_seconds, 3),
                sla_seconds=events.LATENCY_SLA_SECONDS,
                retries=result.retries,
            )
        )
    return notices


def _record_failure(
    engine: Engine,
    account_id: str,
    window: DateWindow,
    identity: RunIdentity,
    exc: MonoError,
    started_at: datetime,
    now: datetime,
    *,
    count: bool = True,
) -> AccountSyncOutcome:
    error = str(exc)
    with engine.begin() as conn:
        streak = record_sync_failure(conn, account_id, error, now, count=count)
        outcome = AccountSyncOutcome(
            account_id=account_id, ok=False, failure_streak=streak, error=error, counted=count, exception=exc
        )
        record_fetch(conn, _fetch_record(account_id, window, identity, outcome, []))
        append_events(
            conn,
            [
                # The RFC's `mono.fetch.started`, written with the outcome (the outbox only holds committed work).
                _fetch_event(events.FETCH_STARTED, account_id, window, identity, started_at=started_at.isoformat()),
                _fetch_event(
                    events.FETCH_FAILED,
                    account_id,
                    window,
                    identity,
                    failures=streak,
                    counted_in_streak=count,
                    error_class=exc.__class__.__name__,
                    status_code=exc.status_code,
                    message=error,
                ),
            ],
        )
    log.error(
        "sync of account %s failed (streak %d, correlation %s): %s",
        account_id,
        streak,
        identity.correlation_id,
        error,
        extra=_log_context(identity, account_id, events.FETCH_FAILED),
    )
    return outcome


def _log_context(identity: RunIdentity, account_id: str, event: str) -> dict[str, str]:
    return {
        "correlation_id": identity.correlation_id,
        "run_id": identity.run_id,
        "account_id": account_id,
        "stage": "sync",
        "event": event,
    }


def _fetch_record(
    account_id: str,
    window: DateWindow,
    identity: RunIdentity,
    outcome: AccountSyncOutcome,
    page_ids: list[int],
) -> FetchRecord:
    return FetchRecord(
        run_id=identity.run_id,
        correlation_id=identity.correlation_id,
        account_id=account_id,
        window_start=window.start,
        window_end=window.end,
        status="ok" if outcome.ok else "failed",
        raw_page_ids=tuple(page_ids),
        transaction_count=outcome.transactions,
        duplicates_dropped=outcome.duplicates_dropped,
        requests=outcome.requests,
        retries=outcome.retries,
        restarts=outcome.restarts,
        elapsed_seconds=outcome.elapsed_seconds,
        error=outcome.error,
    )
