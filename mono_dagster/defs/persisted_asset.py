"""`bank_transactions`: the persisted records, upserted idempotently in one transaction per run.

Its checks: every account of the run synced (blocking: the run fails so a retry re-runs the partition,
after the healthy accounts were persisted), raw = persisted + quarantined, no duplicates, and balance
continuity (a warning: Mono's running balances are bank data, not ours).
"""

import time
from datetime import UTC, datetime

import dagster as dg
from sqlalchemy import Engine

from mono_dagster.defs import names
from mono_dagster.defs.asset_common import COMMON_ASSET_ARGS
from mono_dagster.defs.canonical_asset import canonical_transactions
from mono_dagster.defs.partition_range import RunScope, run_scope
from mono_dagster.defs.resources import DatabaseResource
from mono_dagster.defs.run_identity import run_identity
from mono_dagster.pipeline.persist import persist_run
from mono_dagster.pipeline.reconcile import reconcile_run
from mono_dagster.storage.balance_checks import balance_breaks_by_account
from mono_dagster.storage.fetch_log import failed_fetches
from mono_dagster.storage.reconciliation import duplicate_keys


def _spec(name: str, description: str, *, blocking: bool = False) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=names.PERSISTED_ASSET, blocking=blocking, description=description)


@dg.asset(
    name=names.PERSISTED_ASSET,
    deps=[canonical_transactions],
    kinds={"sql", "postgres"},
    check_specs=[
        _spec(
            names.ACCOUNTS_SYNCED_CHECK,
            "Every account of the run was fetched; fails the run otherwise.",
            blocking=True,
        ),
        _spec(
            names.RECONCILIATION_CHECK,
            "Every fetched transaction is persisted or quarantined: per-account counts, fetched vs stored.",
        ),
        _spec(names.DUPLICATES_CHECK, "No (account, Mono id) or transaction_id is stored twice."),
        _spec(names.BALANCE_CHECK, "Each row's balance equals the previous balance plus its signed amount."),
    ],
    description=(
        "Persisted TaxPoynt bank transactions: idempotent upsert keyed on transaction_id (the UUIDv5 of "
        "provider, account_id and provider_transaction_id); rows Mono changed are updated and counted, rows "
        "missing from two complete fetches are flagged vanished (never deleted); outbox events commit in the "
        "same transaction."
    ),
    **COMMON_ASSET_ARGS,
)
def bank_transactions(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    scope = run_scope(context)
    identity = run_identity(context, scope)
    engine = database.get_engine()
    with engine.connect() as conn:
        failures = failed_fetches(conn, identity.run_id)
    started = time.perf_counter()
    outcome = persist_run(engine, identity, now=datetime.now(UTC), failed_accounts=len(failures))
    stats = outcome.stats
    context.log.info(
        f"persisted {scope.description}: {stats.inserted} inserted, {stats.updated} updated, "
        f"{stats.unchanged} unchanged, {stats.vanished} newly vanished (correlation {identity.correlation_id})"
    )
    return dg.MaterializeResult(
        metadata={
            "inserted": stats.inserted,
            "updated": stats.updated,
            "unchanged": stats.unchanged,
            "missing_once": stats.missing,
            "vanished": stats.vanished,
            "amount_minor_changed_total": stats.amount_minor_total,
            "accounts": len(outcome.accounts),
            "duration_seconds": round(time.perf_counter() - started, 3),
        },
        check_results=[
            _accounts_synced(failures),
            *_data_checks(engine, identity.run_id, scope, outcome.accounts),
        ],
    )


def _accounts_synced(failures: list) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=names.ACCOUNTS_SYNCED_CHECK,
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "failed_accounts": [failure.account_id for failure in failures],
            "errors": dg.MetadataValue.md("\n".join(f"- `{f.account_id}`: {f.error}" for f in failures) or "_none_"),
        },
    )


def _data_checks(engine: Engine, run_id: str, scope: RunScope, accounts: tuple[str, ...]) -> list[dg.AssetCheckResult]:
    reconciliation = reconcile_run(engine, run_id)
    with engine.connect() as conn:
        duplicates = duplicate_keys(conn, list(accounts), scope.window.start, scope.window.end)
        # One query per chunk of accounts, not one per account (a shard's run holds hundreds).
        breaks = balance_breaks_by_account(conn, list(accounts), scope.window.start, scope.window.end)
    return [
        dg.AssetCheckResult(
            check_name=names.RECONCILIATION_CHECK,
            passed=reconciliation.balanced,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "fetched": reconciliation.fetched,
                "persisted": reconciliation.persisted,
                "quarantined": reconciliation.quarantined,
                "unbalanced_accounts": len(reconciliation.unbalanced),
                # Counts name the account, not the row: no page is parsed again to find it.
                "sample": [str(account) for account in reconciliation.unbalanced[:20]],
            },
        ),
        dg.AssetCheckResult(
            check_name=names.DUPLICATES_CHECK,
            passed=not duplicates,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"duplicates": len(duplicates), "sample": [str(d) for d in list(duplicates)[:20]]},
        ),
        dg.AssetCheckResult(
            check_name=names.BALANCE_CHECK,
            passed=not breaks,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "accounts_with_breaks": len(breaks),
                "breaks": sum(len(found) for found in breaks.values()),
                "sample": [f"{account}: {found[0]}" for account, found in list(breaks.items())[:10]],
            },
        ),
    ]
