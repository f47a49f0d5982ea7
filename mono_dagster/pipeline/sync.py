"""Steps 1 and 2 of a run, overlapped: fetch each account's window from Mono, keep the raw pages exactly
as received, and canonicalise, validate and stage them, a batch of accounts at a time.

Three threads share the work. A worker fetches the accounts one after another (`fetch_worker`); this
thread builds each batch's raw frame from the pages as the client parsed them, transforms and
validates it (`canonicalize.prepare_batch`); a writer commits each batch in one transaction
(`batch_commit`, `batch_writer`). So Mono's answer time and the database's own work overlap the
transform, and each page is parsed once.

Once a batch fails the schema, nothing more is staged and the run's stage is cleared at the end (the
schema check blocks persistence); the raw pages, fetch log and quarantine of every batch are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from mono_dagster.mono import DateWindow, MonoClient, MonoError
from mono_dagster.pipeline.batch_commit import AccountSyncOutcome, CommittedBatch, commit_batch, report_batch
from mono_dagster.pipeline.batch_writer import BatchWriter
from mono_dagster.pipeline.canonicalize import CanonicalSummary, PreparedBatch, prepare_batch, warm_up
from mono_dagster.pipeline.fetch_worker import AccountFetcher, FetchedAccount
from mono_dagster.pipeline.identity import RunIdentity
from mono_dagster.storage.accounts import AccountRow
from mono_dagster.storage.canonical_stage import clear_stage

__all__ = ["AccountSyncOutcome", "BlockedRunError", "RunIdentity", "SyncSummary", "sync_accounts"]

# A batch closes at this many transactions or accounts: Pandera costs ~3 ms a call and pandas about as
# much per operation, so 2,000 small accounts go through in a handful of calls, not 2,000; a large
# account is a batch of its own, so the next one is fetched and transformed while it is written.
DEFAULT_BATCH_ROWS = 10_000
DEFAULT_BATCH_ACCOUNTS = 100
# ...or when it has waited this long for more (a slow Mono still shows progress and stages as it goes).
DEFAULT_BATCH_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class SyncSummary:
    window: DateWindow
    outcomes: tuple[AccountSyncOutcome, ...]
    canonical: CanonicalSummary = field(default_factory=CanonicalSummary)
    fetch_wait_seconds: float = 0.0  # time this thread waited for the fetch worker (Mono, not us)

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


class BlockedRunError(RuntimeError):
    """An error after the schema already failed in this attempt. A retry of the step would stage the
    remaining accounts without the blocked ones and let persistence count those rows missing, so the
    caller must not retry: the run ends failed, and a new run starts clean."""


@dataclass
class _Progress:
    outcomes: list[AccountSyncOutcome] = field(default_factory=list)
    canonical: CanonicalSummary = field(default_factory=CanonicalSummary)
    schema_failed: bool = False  # known as soon as a batch is validated, before it is written
    waited: float = 0.0


@dataclass(frozen=True)
class _Job:
    fetched: tuple[FetchedAccount, ...]
    prepared: PreparedBatch | None
    stage: bool


def sync_accounts(
    client: MonoClient,
    engine: Engine,
    accounts: Sequence[AccountRow],
    window: DateWindow,
    identity: RunIdentity,
    *,
    now: datetime | None = None,
    on_batch: Callable[[Sequence[AccountSyncOutcome], int], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    count_failure: Callable[[MonoError], bool] = lambda _exc: True,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    batch_accounts: int = DEFAULT_BATCH_ACCOUNTS,
    batch_wait_seconds: float = DEFAULT_BATCH_WAIT_SECONDS,
) -> SyncSummary:
    """Fetches, records, canonicalises and stages the accounts; `on_batch(outcomes, done)` after each commit.

    `count_failure(exc)` False leaves that failure out of the account's streak (the caller retries it;
    it counts it itself if it ends up not retrying): the escalation sensor never sees a streak grow
    during an outage the step's retry is about to ride out."""
    now = now or clock()
    progress = _Progress()

    def write(job: _Job) -> tuple[_Job, CommittedBatch]:
        committed = commit_batch(
            engine,
            job.fetched,
            job.prepared,
            window,
            identity,
            now=now,
            clock=clock,
            count_failure=count_failure,
            stage=job.stage,
        )
        return job, committed

    def committed(results: list[tuple[_Job, CommittedBatch]]) -> None:
        for job, batch in results:
            report_batch(job.fetched, batch, identity)
            progress.outcomes.extend(batch.outcomes)
            progress.canonical = progress.canonical.plus(batch.canonical)
            if on_batch is not None:
                on_batch(batch.outcomes, len(progress.outcomes))

    def prepare(pending: list[FetchedAccount]) -> _Job:
        succeeded = [(item.account, item.result.pages) for item in pending if item.result is not None]
        prepared = prepare_batch(succeeded, window) if succeeded else None
        stage = not progress.schema_failed
        if prepared is not None and not prepared.schema.passed:
            progress.schema_failed = True
        return _Job(tuple(pending), prepared, stage)

    try:
        with (
            AccountFetcher(client, accounts, window, clock=clock) as fetcher,
            BatchWriter[_Job, tuple[_Job, CommittedBatch]](write) as writer,
        ):
            if accounts:
                warm_up()  # while the worker waits for Mono's first answer
            pending: list[FetchedAccount] = []
            rows = 0
            closes_at = 0.0
            while True:
                waited_from = time.perf_counter()
                item = fetcher.next(None if not pending else max(0.0, closes_at - time.monotonic()))
                progress.waited += time.perf_counter() - waited_from
                if item is None and not pending:
                    break
                if item is not None:
                    if not pending:
                        closes_at = time.monotonic() + batch_wait_seconds
                    pending.append(item)
                    rows += item.rows
                    if rows < batch_rows and len(pending) < batch_accounts:
                        continue
                committed(writer.submit(prepare(pending)))
                pending, rows = [], 0
            committed(writer.finish())
    except Exception as exc:
        if progress.schema_failed:
            raise BlockedRunError(
                f"the canonical schema failed in this run, then: {exc.__class__.__name__}: {exc}"
            ) from exc
        raise
    finally:
        if progress.schema_failed:
            with engine.begin() as conn:
                clear_stage(conn, identity.run_id)
    return SyncSummary(window, tuple(progress.outcomes), progress.canonical, progress.waited)
