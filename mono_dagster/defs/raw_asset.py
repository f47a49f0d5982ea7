"""`mono_raw_transactions`: Mono's pages exactly as received, one date window per account.

Reads and writes the database itself (no pickled IO manager) and returns `MaterializeResult` metadata.
"""

import time

import dagster as dg
from pydantic import Field

from mono_dagster.defs import names
from mono_dagster.defs.asset_common import COMMON_ASSET_ARGS
from mono_dagster.defs.partition_range import RunScope, run_scope
from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.defs.run_identity import run_identity
from mono_dagster.pipeline.sync import AccountSyncOutcome, sync_accounts
from mono_dagster.storage.accounts import AccountRow, list_accounts


class SyncConfig(dg.Config):
    """Run config of `mono_raw_transactions`; an empty `accounts` list syncs every active account."""

    accounts: list[str] = Field(
        default_factory=list,
        description="Resync only these Mono account ids (they must belong to the run's shards).",
    )


def accounts_in_scope(database: DatabaseResource, scope: RunScope, wanted: list[str]) -> list[AccountRow]:
    with database.get_engine().connect() as conn:
        if not wanted:
            return [row for shard in scope.shards for row in list_accounts(conn, shard=shard)]
        rows = {row.account_id: row for row in list_accounts(conn, statuses=None, account_ids=wanted)}
    problems = []
    for account_id in wanted:
        row = rows.get(account_id)
        if row is None:
            problems.append(f"{account_id} is not registered (run `mono-dagster accounts add {account_id}`)")
        elif row.shard not in scope.shards:
            problems.append(f"{account_id} belongs to shard {row.shard}, not to this run's shards {list(scope.shards)}")
        elif row.status != "active":
            problems.append(f"{account_id} is {row.status}, not active")
    if problems:
        raise dg.Failure(description="Cannot resync: " + "; ".join(problems))
    return [rows[account_id] for account_id in wanted]


@dg.asset(
    name=names.RAW_ASSET,
    kinds={"python", "sql"},
    pool=names.MONO_POOL,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.FULL),
    description=(
        "Mono's transaction pages exactly as received (all three response shapes), one date window per "
        "account, with fetch metadata (account, window, page, fetched_at, run id, correlation id). "
        "An account that fails is recorded on the account registry and in `mono.fetch.failed`; the others go on."
    ),
    **COMMON_ASSET_ARGS,
)
def mono_raw_transactions(
    context: dg.AssetExecutionContext, config: SyncConfig, mono: MonoResource, database: DatabaseResource
) -> dg.MaterializeResult:
    scope = run_scope(context)
    identity = run_identity(context, scope)
    accounts = accounts_in_scope(database, scope, config.accounts)
    context.log.info(
        f"syncing {len(accounts)} account(s) for {scope.description} (correlation {identity.correlation_id})"
    )
    progress = {"done": 0}

    def report(outcome: AccountSyncOutcome) -> None:
        progress["done"] += 1
        status = f"{outcome.transactions} txns, {outcome.pages} pages" if outcome.ok else f"FAILED: {outcome.error}"
        context.log.info(f"[{progress['done']}/{len(accounts)}] account {outcome.account_id}: {status}")

    started = time.perf_counter()
    summary = sync_accounts(
        mono.get_client(), database.get_engine(), accounts, scope.window, identity, on_account=report
    )
    return dg.MaterializeResult(
        metadata={
            "window": str(scope.window),
            "shards": list(scope.shards),
            "accounts": len(accounts),
            "accounts_failed": len(summary.failed),
            "failed_accounts": [outcome.account_id for outcome in summary.failed],
            "transactions": summary.transactions,
            "pages": summary.pages,
            "requests": summary.requests,
            "retries": summary.retries,
            "duration_seconds": round(time.perf_counter() - started, 3),
            "correlation_id": identity.correlation_id,
        }
    )
