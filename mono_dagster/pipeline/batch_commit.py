"""One batch of a run's fetched accounts, written in ONE transaction: raw pages exactly as received,
the canonical rows (quarantine and stage), the fetch log, failures and the fetch events.

An account therefore counts as synced in a run exactly when its staged rows are there too: a retried
step skips it and its rows stay counted, and a crash loses at most the batch in flight, which nothing
yet claims. One account's failure is recorded on the account (failure streak), in the fetch log and as
a `mono.fetch.failed` event, and the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from mono_dagster.mono import DateWindow, MonoError
from mono_dagster.mono.client import FetchResult
from mono_dagster.observability import metrics
from mono_dagster.pipeline import events
from mono_dagster.pipeline.canonicalize import CanonicalSummary, PreparedBatch, store_batch
from mono_dagster.pipeline.fetch_worker import FetchedAccount
from mono_dagster.pipeline.identity import RunIdentity
from mono_dagster.storage.accounts import record_sync_failure
from mono_dagster.storage.fetch_log import FetchRecord, record_fetches
from mono_dagster.storage.outbox import PipelineEvent, append_events
from mono_dagster.storage.raw_pages import RawPageRecord, store_raw_pages

log = logging.getLogger("mono_dagster.pipeline.sync")  # the sync's own logger name, as before the split


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
class CommittedBatch:
    """What one batch's transaction wrote, for the caller's logs, metrics and progress."""

    outcomes: tuple[AccountSyncOutcome, ...]
    canonical: CanonicalSummary
    notices: tuple[tuple[str, PipelineEvent], ...]


def commit_batch(
    engine: Engine,
    fetched: Sequence[FetchedAccount],
    prepared: PreparedBatch | None,
    window: DateWindow,
    identity: RunIdentity,
    *,
    now: datetime,
    clock: Callable[[], datetime],
    count_failure: Callable[[MonoError], bool],
    stage: bool,
) -> CommittedBatch:
    """One transaction for the batch: raw pages, canonical rows, fetch log, failures and events.

    `prepared` is the batch's successful accounts, transformed and validated (None when none succeeded)."""
    succeeded = [item for item in fetched if item.result is not None]
    outcomes: list[AccountSyncOutcome] = []
    fetch_records: list[FetchRecord] = []
    outbox: list[PipelineEvent] = []
    notices: list[tuple[str, PipelineEvent]] = []
    with engine.begin() as conn:
        page_ids = store_raw_pages(conn, [page for item in succeeded for page in _page_records(item, identity)])
        canonical = CanonicalSummary()
        if prepared is not None:
            canonical = store_batch(conn, prepared, page_ids, identity, window, now=now, stage=stage)
        ids_of: dict[str, Sequence[int]] = {}
        offset = 0
        for item in succeeded:
            pages = len(_result(item).pages)
            ids_of[item.account.account_id] = page_ids[offset : offset + pages]
            offset += pages
        for item in fetched:
            account_id = item.account.account_id
            if item.result is not None:
                outcome = _success_outcome(item.result)
                fetch_records.append(_fetch_record(account_id, window, identity, outcome, ids_of[account_id]))
                account_notices = _fetch_notices(item.result, identity)
                # started, completed, then any warnings about the fetch: one account's events stay in order.
                outbox.extend([*_lifecycle(item, outcome, window, identity), *account_notices])
                notices.extend((account_id, notice) for notice in account_notices)
            else:
                error = _error(item)
                counted = count_failure(error)
                streak = record_sync_failure(conn, account_id, str(error), clock(), count=counted)
                outcome = AccountSyncOutcome(
                    account_id=account_id,
                    ok=False,
                    failure_streak=streak,
                    error=str(error),
                    counted=counted,
                    exception=error,
                    elapsed_seconds=item.seconds,
                )
                fetch_records.append(_fetch_record(account_id, window, identity, outcome, []))
                outbox.extend(_failure_events(item, outcome, window, identity))
            outcomes.append(outcome)
        record_fetches(conn, fetch_records)
        append_events(conn, outbox)
    return CommittedBatch(tuple(outcomes), canonical, tuple(notices))


def report_batch(fetched: Sequence[FetchedAccount], committed: CommittedBatch, identity: RunIdentity) -> None:
    """Metrics and log lines for a committed batch (after the commit: they describe what is stored)."""
    for item, outcome in zip(fetched, committed.outcomes, strict=True):
        _observe(item, outcome)
    for account_id, notice in committed.notices:
        log.warning(
            "%s for account %s (correlation %s)",
            notice.event_name,
            account_id,
            identity.correlation_id,
            extra=_log_context(identity, account_id, notice.event_name),
        )
    for outcome in committed.outcomes:
        if not outcome.ok:
            log.error(
                "sync of account %s failed (streak %d, correlation %s): %s",
                outcome.account_id,
                outcome.failure_streak,
                identity.correlation_id,
                outcome.error,
                extra=_log_context(identity, outcome.account_id, events.FETCH_FAILED),
            )


def _result(item: FetchedAccount) -> FetchResult:
    assert item.result is not None
    return item.result


def _error(item: FetchedAccount) -> MonoError:
    assert item.error is not None
    return item.error


def _observe(item: FetchedAccount, outcome: AccountSyncOutcome) -> None:
    account_id = outcome.account_id
    metrics.observe_stage(account_id, "sync", item.seconds, ok=outcome.ok)
    if outcome.ok:
        if not outcome.transactions:
            metrics.observe_zero_transactions(account_id)
    else:
        metrics.observe_error(account_id, "sync", _error(item).__class__.__name__)
        metrics.observe_failure_streak(account_id, outcome.failure_streak)


def _page_records(item: FetchedAccount, identity: RunIdentity) -> list[RawPageRecord]:
    result = _result(item)
    return [
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


def _success_outcome(result: FetchResult) -> AccountSyncOutcome:
    return AccountSyncOutcome(
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


def _started_event(item: FetchedAccount, account_id: str, window: DateWindow, identity: RunIdentity) -> PipelineEvent:
    return _fetch_event(events.FETCH_STARTED, account_id, window, identity, started_at=item.started_at.isoformat())


def _lifecycle(
    item: FetchedAccount, outcome: AccountSyncOutcome, window: DateWindow, identity: RunIdentity
) -> list[PipelineEvent]:
    account_id = outcome.account_id
    return [
        _started_event(item, account_id, window, identity),
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


def _failure_events(
    item: FetchedAccount, outcome: AccountSyncOutcome, window: DateWindow, identity: RunIdentity
) -> list[PipelineEvent]:
    error = _error(item)
    account_id = outcome.account_id
    return [
        # The RFC's `mono.fetch.started`, written with the outcome (the outbox only holds committed work).
        _started_event(item, account_id, window, identity),
        _fetch_event(
            events.FETCH_FAILED,
            account_id,
            window,
            identity,
            failures=outcome.failure_streak,
            counted_in_streak=outcome.counted,
            error_class=error.__class__.__name__,
            status_code=error.status_code,
            message=outcome.error,
        ),
    ]


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
    page_ids: Sequence[int],
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
