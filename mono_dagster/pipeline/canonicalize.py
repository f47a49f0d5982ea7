"""Step 2, canonicalise: a batch of fetched accounts' pages → canonical records, validated, staged.

The pages arrive as the client parsed them on arrival (each body is parsed once per run). Row-level
failures are quarantined with a reason (never dropped); the Pandera schema then validates the whole
batch once, and only a batch that passes is appended to the run's stage. Batches hold many accounts
(Pandera's cost is mostly per call), and always whole accounts: the transform deduplicates within one.
Everything runs on the caller's connection, in the caller's transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from mono_dagster.mono import DateWindow
from mono_dagster.mono.client import FetchedPage
from mono_dagster.observability import metrics
from mono_dagster.pipeline.identity import RunIdentity
from mono_dagster.records import QUARANTINE_COLUMNS
from mono_dagster.storage.accounts import AccountRow
from mono_dagster.storage.canonical_stage import append_to_stage
from mono_dagster.storage.quarantine import quarantine_rows
from mono_dagster.transform import (
    CanonicalBatch,
    SchemaReport,
    build_raw_frame_from_pages,
    to_canonical,
    validate_canonical,
)

QUARANTINE_SAMPLE_SIZE = 20


class CanonicalBatchError(RuntimeError):
    """The transform itself failed on a batch (a bug or a broken contract, not bad data: that is quarantined)."""

    def __init__(self, account_ids: Sequence[str], window: DateWindow, cause: BaseException) -> None:
        shown = ", ".join(account_ids[:5]) + (f" and {len(account_ids) - 5} more" if len(account_ids) > 5 else "")
        super().__init__(f"canonicalising accounts {shown} for {window} failed: {cause.__class__.__name__}: {cause}")
        self.account_ids = tuple(account_ids)
        self.window = window


@dataclass(frozen=True)
class PreparedBatch:
    """A batch transformed and validated, not yet written. Its lineage column `raw_page_id` holds each
    row's position in `pages` until `store_batch` knows the ids the pages got in `mono_raw_pages`."""

    pages: tuple[FetchedPage, ...]
    batch: CanonicalBatch
    schema: SchemaReport
    raw_transactions: int
    accounts: int


def _empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame(columns=list(QUARANTINE_COLUMNS))


@dataclass(frozen=True)
class CanonicalSummary:
    """What canonicalisation did over one or more batches of a run."""

    accounts: int = 0
    raw_transactions: int = 0
    valid: int = 0
    staged: int = 0
    quarantined: int = 0
    newly_quarantined: int = 0
    duplicates_dropped: int = 0
    amount_minor_total: int = 0
    batches: int = 0
    schema: SchemaReport = field(default_factory=lambda: SchemaReport(passed=True, num_failures=0))
    quarantine_sample: pd.DataFrame = field(default_factory=_empty_quarantine, compare=False, repr=False)

    def plus(self, other: CanonicalSummary) -> CanonicalSummary:
        """Both summaries together; the failure and quarantine samples keep the earliest batches' cases."""
        failed = [report for report in (self.schema, other.schema) if not report.passed]
        schema = (
            SchemaReport(
                passed=False,
                num_failures=self.schema.num_failures + other.schema.num_failures,
                failure_sample=failed[0].failure_sample,
            )
            if failed
            else self.schema
        )
        sample = self.quarantine_sample
        if len(sample) < QUARANTINE_SAMPLE_SIZE and len(other.quarantine_sample):
            parts = [frame for frame in (sample, other.quarantine_sample) if len(frame)]
            sample = pd.concat(parts, ignore_index=True).head(QUARANTINE_SAMPLE_SIZE)
        return CanonicalSummary(
            accounts=self.accounts + other.accounts,
            raw_transactions=self.raw_transactions + other.raw_transactions,
            valid=self.valid + other.valid,
            staged=self.staged + other.staged,
            quarantined=self.quarantined + other.quarantined,
            newly_quarantined=self.newly_quarantined + other.newly_quarantined,
            duplicates_dropped=self.duplicates_dropped + other.duplicates_dropped,
            amount_minor_total=self.amount_minor_total + other.amount_minor_total,
            batches=self.batches + other.batches,
            schema=schema,
            quarantine_sample=sample,
        )


def warm_up() -> None:
    """Runs the transform and the schema once on nothing: Pandera's first call in a process imports its
    strategies (`hypothesis`, when installed), a quarter of a second better spent while Mono answers."""
    validate_canonical(to_canonical(build_raw_frame_from_pages([]), _accounts_frame([])).valid)


def prepare_batch(fetched: Sequence[tuple[AccountRow, Sequence[FetchedPage]]], window: DateWindow) -> PreparedBatch:
    """Transforms and validates one batch of accounts' pages (CPU only: no database)."""
    pages = tuple(page for _, account_pages in fetched for page in account_pages)
    positions = iter(range(len(pages)))
    raw = build_raw_frame_from_pages(
        (account.account_id, next(positions), page.transactions)
        for account, account_pages in fetched
        for page in account_pages
    )
    raw_transactions = len(raw)
    started = time.perf_counter()
    try:
        batch = to_canonical(raw, _accounts_frame([account for account, _ in fetched]))
        del raw  # Mono's values live on in the batch; the raw frame would only raise the peak while staging
        report = validate_canonical(batch.valid)
    except Exception as exc:
        metrics.observe_error(metrics.ALL_ACCOUNTS, "transform", exc.__class__.__name__)
        raise CanonicalBatchError([account.account_id for account, _ in fetched], window, exc) from exc
    metrics.observe_stage(metrics.ALL_ACCOUNTS, "transform", time.perf_counter() - started, ok=report.passed)
    for account_id, count in batch.quarantined["account_id"].value_counts().items():
        metrics.observe_rows(str(account_id), quarantined=int(count))
    return PreparedBatch(pages, batch, report, raw_transactions, len(fetched))


def store_batch(
    conn: sa.Connection,
    prepared: PreparedBatch,
    page_ids: Sequence[int],
    identity: RunIdentity,
    window: DateWindow,
    *,
    now: datetime,
    stage: bool = True,
) -> CanonicalSummary:
    """Quarantines the batch's bad rows and (when the schema passed and `stage`) stages the valid ones,
    on the caller's connection; `page_ids` are the stored ids of `prepared.pages`, in order."""
    ids = np.asarray(page_ids, dtype=np.int64)
    batch = prepared.batch
    valid, quarantined = batch.valid, batch.quarantined
    valid["raw_page_id"] = ids[valid["raw_page_id"].to_numpy(dtype=np.int64)]
    if len(quarantined):
        quarantined["raw_page_id"] = ids[quarantined["raw_page_id"].to_numpy(dtype=np.int64)]
    # Quarantine is kept even when the schema blocks the batch: those rows are known bad either way.
    newly_quarantined = quarantine_rows(
        conn,
        quarantined,
        run_id=identity.run_id,
        correlation_id=identity.correlation_id,
        window_start=window.start,
        window_end=window.end,
        now=now,
    )
    passed = prepared.schema.passed
    staged = append_to_stage(conn, identity.run_id, valid) if stage and passed and len(valid) else 0
    return CanonicalSummary(
        accounts=prepared.accounts,
        raw_transactions=prepared.raw_transactions,
        valid=len(valid),
        staged=staged,
        quarantined=len(quarantined),
        newly_quarantined=newly_quarantined,
        duplicates_dropped=batch.duplicates_dropped,
        amount_minor_total=int(valid["amount_minor"].sum()) if len(valid) else 0,
        batches=1,
        schema=prepared.schema,
        quarantine_sample=quarantined.head(QUARANTINE_SAMPLE_SIZE).reset_index(drop=True),
    )


def _accounts_frame(accounts: Sequence[AccountRow]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": [row.account_id for row in accounts],
            # The registry keeps only the masked number; the transform shows the last four digits anyway.
            "account_number": [row.account_number_masked for row in accounts],
            "institution": [row.institution for row in accounts],
            "currency": [row.currency for row in accounts],
        }
    )
