"""`mono_raw_transactions`: Mono's pages exactly as received, one date window per account; and the step
that also computes `canonical_transactions` from them while the next accounts are fetched.

One step for both assets (a `multi_asset`): the pages are parsed once, on arrival, and canonicalised
while Mono answers the next request, instead of being stored and re-read by a second step. Reads and
writes the database itself (no pickled IO manager) and returns `MaterializeResult` metadata.

One account's failure never stops the others (`pipeline.sync`). When every account that failed failed
transiently (Mono unavailable: 429, 5xx, timeouts, unreachable, after the client's own retries), the
step asks Dagster for a retry with the asset's `RetryPolicy` (its attempts, exponential backoff and full
jitter). The retry fetches only the accounts that have no successful fetch in this run yet: the fetch log
keeps the latest entry per (run, account, window), and an account's fetch-log entry commits with its
staged rows, so the later steps see the whole shard either way. On
the last attempt, or when any failure is not transient (401, 404, a refused request), the step ends
normally and the blocking `all_accounts_synced` check fails the partition, as before.
"""

import random
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import cast

import dagster as dg
from pydantic import Field

from mono_dagster.defs import names
from mono_dagster.defs.canonical_asset import (
    SPEC_ARGS,
    STEP_ARGS,
    canonical_materialization,
    canonical_transactions,
    schema_check,
)
from mono_dagster.defs.partition_range import RunScope, run_scope
from mono_dagster.defs.partitions import shard_key
from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.defs.run_identity import run_identity
from mono_dagster.mono import DateWindow, MonoError
from mono_dagster.mono.account_ids import describe_value, is_valid_account_id
from mono_dagster.mono.errors import MonoUnavailableError
from mono_dagster.observability import metrics
from mono_dagster.pipeline.sync import AccountSyncOutcome, BlockedRunError, sync_accounts
from mono_dagster.storage.accounts import AccountRow, list_accounts, record_sync_failure
from mono_dagster.storage.fetch_log import successful_fetches

# Failures worth another attempt of the step: Mono was unavailable (the client already retried each request).
TRANSIENT_ERRORS: tuple[type[MonoError], ...] = (MonoUnavailableError,)
# The client's own retries span about half a minute per request, so a step retry waits longer: with full
# jitter, up to 60 s before the second attempt and up to 180 s before the third.
RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.FULL)


class SyncConfig(dg.Config):
    """Run config of `mono_raw_transactions`; an empty `accounts` list syncs every active account."""

    accounts: list[str] = Field(
        default_factory=list,
        description="Resync only these Mono account ids (they must belong to the run's shards).",
    )
    retry_delay_seconds: float | None = Field(
        default=None,
        ge=0,
        description=(
            "Base delay of a retry after transient Mono failures (before backoff and jitter); "
            "empty uses the asset's RetryPolicy delay."
        ),
    )


def transient_failures(
    failed: Sequence[AccountSyncOutcome], errors: Mapping[str, MonoError | None]
) -> list[tuple[str, MonoError]] | None:
    """The failures, when there are some and every one of them is transient; else None (no retry helps)."""
    found = [(outcome.account_id, errors.get(outcome.account_id)) for outcome in failed]
    if not found or not all(isinstance(error, TRANSIENT_ERRORS) for _, error in found):
        return None
    return cast(list[tuple[str, MonoError]], found)


def retry_delay(policy: dg.RetryPolicy, attempt: int, base_delay: float | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first), by the policy's backoff and jitter."""
    base = float(policy.delay or 0) if base_delay is None else base_delay
    if policy.backoff is dg.Backoff.EXPONENTIAL:
        delay = (2**attempt - 1) * base
    elif policy.backoff is dg.Backoff.LINEAR:
        delay = attempt * base
    else:
        delay = base
    if policy.jitter is dg.Jitter.FULL:
        delay = random.random() * delay
    elif policy.jitter is dg.Jitter.PLUS_MINUS:
        delay = max(0.0, delay + (2 * random.random() - 1) * base)
    return delay


def count_deferred_failures(database: DatabaseResource, outcomes: Sequence[AccountSyncOutcome]) -> None:
    """The transient failures left out of the streak for a retry that is not happening (another account
    failed for good in the same attempt): they are final now, so each counts once."""
    if not outcomes:
        return
    with database.get_engine().begin() as conn:
        for outcome in outcomes:
            streak = record_sync_failure(conn, outcome.account_id, outcome.error or "", datetime.now(UTC))
            metrics.observe_failure_streak(outcome.account_id, streak)


def already_synced(database: DatabaseResource, run_id: str, window: DateWindow) -> set[str]:
    """Accounts whose latest fetch of this window in this run succeeded (in an earlier attempt of the step)."""
    with database.get_engine().connect() as conn:
        return {
            fetch.account_id
            for fetch in successful_fetches(conn, run_id)
            if (fetch.window_start, fetch.window_end) == (window.start, window.end)
        }


def accounts_in_scope(database: DatabaseResource, scope: RunScope, wanted: list[str]) -> list[AccountRow]:
    """The run's accounts: every active one of its shards, or the `accounts` filter, each of which must be
    a registered, active account of a shard inside the run's box (any of them, for a multi-shard range)."""
    wanted = list(dict.fromkeys(wanted))  # an id given twice is synced once
    with database.get_engine().connect() as conn:
        if not wanted:
            return [row for shard in scope.shards for row in list_accounts(conn, shard=shard)]
        rows = {row.account_id: row for row in list_accounts(conn, statuses=None, account_ids=wanted)}
    problems = []
    for account_id in wanted:
        row = rows.get(account_id)
        if not is_valid_account_id(account_id):
            problems.append(f"{describe_value(account_id)} is not a Mono account id")
        elif row is None:
            problems.append(f"{account_id} is not registered (run `mono-dagster accounts add {account_id}`)")
        elif row.shard not in scope.shards:
            problems.append(
                f"{account_id} belongs to shard {row.shard}, not to this run's shards {list(scope.shards)} "
                f"(launch it on partitions of {shard_key(row.shard)})"
            )
        elif row.status != "active":
            problems.append(f"{account_id} is {row.status}, not active")
    if problems:
        # The same run config fails the same way on every attempt: fail now, not after the retry policy's waits.
        raise dg.Failure(description="Cannot resync: " + "; ".join(problems), allow_retries=False)
    return [rows[account_id] for account_id in wanted]


raw_transactions_spec = dg.AssetSpec(
    names.RAW_ASSET,
    kinds={"python", "sql"},
    description=(
        "Mono's transaction pages exactly as received (all three response shapes), one date window per "
        "account, with fetch metadata (account, window, page, fetched_at, run id, correlation id). "
        "An account that fails is recorded on the account registry and in `mono.fetch.failed`; the others go on. "
        "When Mono was unavailable for every failed account, the step retries those accounts with backoff."
    ),
    **SPEC_ARGS,
)


@dg.multi_asset(
    # The step keeps the raw asset's name, so run config stays `ops: {mono_raw_transactions: {config: ...}}`.
    name=names.SYNC_STEP,
    specs=[raw_transactions_spec, canonical_transactions],
    check_specs=[schema_check],
    pool=names.MONO_POOL,
    retry_policy=RETRY_POLICY,
    description=(
        "Fetches each account's window from Mono (a worker thread) while the accounts fetched before are "
        "stored raw, canonicalised, validated by the Pandera schema and staged, a batch at a time."
    ),
    **STEP_ARGS,
)
def mono_raw_transactions(
    context: dg.AssetExecutionContext, config: SyncConfig, mono: MonoResource, database: DatabaseResource
) -> Iterator[dg.MaterializeResult]:
    scope = run_scope(context)
    identity = run_identity(context, scope)
    in_scope = accounts_in_scope(database, scope, config.accounts)
    attempt = context.retry_number
    done = already_synced(database, identity.run_id, scope.window) if attempt else set()
    accounts = [account for account in in_scope if account.account_id not in done]
    context.log.info(
        f"syncing {len(accounts)} account(s) for {scope.description} (correlation {identity.correlation_id})"
        + (f"; attempt {attempt + 1}, {len(done)} account(s) synced by an earlier attempt" if attempt else "")
    )

    def report(outcomes: Sequence[AccountSyncOutcome], synced: int) -> None:
        # One log line per batch (each a write to Dagster's event log), naming every account's result.
        results = "; ".join(
            f"{o.account_id}: {o.transactions} txns, {o.pages} pages" if o.ok else f"{o.account_id}: FAILED: {o.error}"
            for o in outcomes
        )
        context.log.info(f"[{synced}/{len(accounts)}] {results}")

    started = time.perf_counter()
    policy = RETRY_POLICY
    may_retry = attempt < policy.max_retries
    try:
        summary = sync_accounts(
            mono.get_client(),
            database.get_engine(),
            accounts,
            scope.window,
            identity,
            on_batch=report,
            # A transient failure the step may still retry stays out of the streak until it is final.
            count_failure=lambda exc: not (may_retry and isinstance(exc, TRANSIENT_ERRORS)),
        )
    except BlockedRunError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    duration = time.perf_counter() - started
    canonical = summary.canonical
    if not canonical.schema.passed:
        context.log.error(
            f"canonical schema failed with {canonical.schema.num_failures} failure(s); the run's stage is cleared"
        )
    if canonical.quarantined:
        context.log.warning(f"{canonical.quarantined} transaction(s) quarantined for {scope.description}")
    transient = transient_failures(
        summary.failed, {outcome.account_id: outcome.exception for outcome in summary.failed}
    )
    # A retry cannot mend a schema failure, and would persist the rest without the blocked rows.
    if transient and may_retry and canonical.schema.passed:
        wait = retry_delay(policy, attempt + 1, config.retry_delay_seconds)
        who = ", ".join(account_id for account_id, _ in transient)
        context.log.warning(
            f"Mono was unavailable for {len(transient)} account(s) ({who}); retrying them in {wait:.1f} s "
            f"(retry {attempt + 1} of {policy.max_retries})"
        )
        raise dg.RetryRequested(max_retries=policy.max_retries, seconds_to_wait=wait) from transient[0][1]
    count_deferred_failures(database, [outcome for outcome in summary.failed if not outcome.counted])
    yield dg.MaterializeResult(
        asset_key=names.RAW_ASSET,
        metadata={
            "window": str(scope.window),
            "shards": list(scope.shards),
            "accounts": len(in_scope),
            "attempt": attempt + 1,
            "accounts_synced_by_earlier_attempts": len(done),
            "accounts_failed": len(summary.failed),
            "failed_accounts": [outcome.account_id for outcome in summary.failed],
            "transactions": summary.transactions,
            "pages": summary.pages,
            "requests": summary.requests,
            "retries": summary.retries,
            "fetch_wait_seconds": round(summary.fetch_wait_seconds, 3),
            "duration_seconds": round(duration, 3),
            "correlation_id": identity.correlation_id,
        },
    )
    yield canonical_materialization(canonical, duration)
