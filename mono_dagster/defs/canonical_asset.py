"""`canonical_transactions`: TaxPoynt canonical records, validated by the Pandera schema as a blocking check."""

import time
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from mono_dagster.defs import names
from mono_dagster.defs.asset_common import COMMON_ASSET_ARGS
from mono_dagster.defs.partition_range import run_scope
from mono_dagster.defs.raw_asset import mono_raw_transactions
from mono_dagster.defs.resources import DatabaseResource
from mono_dagster.defs.run_identity import run_identity
from mono_dagster.pipeline.canonicalize import canonicalize_run


@dg.asset(
    name=names.CANONICAL_ASSET,
    deps=[mono_raw_transactions],
    kinds={"pandas", "sql"},
    check_specs=[
        dg.AssetCheckSpec(
            names.SCHEMA_CHECK,
            asset=names.CANONICAL_ASSET,
            blocking=True,
            description="The canonical Pandera schema holds for the whole batch; a failure stops persistence.",
        )
    ],
    description=(
        "TaxPoynt canonical records (docs/canonical_schema.md) built vectorised from this run's raw pages, "
        "validated once per batch. Row-level failures go to `quarantined_transactions` with a reason."
    ),
    **COMMON_ASSET_ARGS,
)
def canonical_transactions(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    scope = run_scope(context)
    identity = run_identity(context, scope)
    started = time.perf_counter()
    outcome = canonicalize_run(database.get_engine(), identity, scope.window, now=datetime.now(UTC))
    batch = outcome.batch
    if not outcome.schema.passed:
        context.log.error(f"canonical schema failed with {outcome.schema.num_failures} failure(s); nothing staged")
    if len(batch.quarantined):
        context.log.warning(f"{len(batch.quarantined)} transaction(s) quarantined for {scope.description}")
    valid = batch.valid
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(valid),
            "raw_transactions": outcome.raw_transactions,
            "staged": outcome.staged,
            "quarantined": len(batch.quarantined),
            "duplicates_dropped": batch.duplicates_dropped,
            "accounts": outcome.accounts,
            "amount_minor_total": int(valid["amount_minor"].sum()) if len(valid) else 0,
            "duration_seconds": round(time.perf_counter() - started, 3),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=names.SCHEMA_CHECK,
                passed=outcome.schema.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "num_failures": outcome.schema.num_failures,
                    "failure_sample": dg.MetadataValue.md(outcome.schema.to_markdown()),
                    "quarantined": len(batch.quarantined),
                    "quarantine_sample": dg.MetadataValue.md(_quarantine_sample(batch.quarantined)),
                },
            )
        ],
    )


def _quarantine_sample(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_none_"
    lines = ["| account | transaction | reason |", "|---|---|---|"]
    for row in frame.head(20).itertuples(index=False):
        lines.append(f"| {row.account_id} | {row.provider_transaction_id} | {row.reason} |")
    return "\n".join(lines)
