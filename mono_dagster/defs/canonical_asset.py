"""`canonical_transactions`: TaxPoynt canonical records, validated by the Pandera schema as a blocking check.

The records are computed by the same step as `mono_raw_transactions` (`raw_asset`), which canonicalises
each batch of accounts while the next ones are fetched; this module holds the asset's spec, its check
and what its materialization reports.
"""

import dagster as dg
import pandas as pd

from mono_dagster.defs import names
from mono_dagster.defs.asset_common import COMMON_ASSET_ARGS
from mono_dagster.pipeline.canonicalize import CanonicalSummary

# What each asset of the shared step carries itself; partitions, backfill policy and hooks are the step's.
SPEC_ARGS = {key: COMMON_ASSET_ARGS[key] for key in ("group_name", "owners", "tags")}
STEP_ARGS = {key: COMMON_ASSET_ARGS[key] for key in ("partitions_def", "backfill_policy", "hooks")}

canonical_transactions = dg.AssetSpec(
    names.CANONICAL_ASSET,
    deps=[names.RAW_ASSET],
    kinds={"pandas", "sql"},
    description=(
        "TaxPoynt canonical records (docs/canonical_schema.md) built vectorised from this run's raw pages as "
        "they arrive, validated a batch of accounts at a time. Row-level failures go to "
        "`quarantined_transactions` with a reason."
    ),
    **SPEC_ARGS,
)

schema_check = dg.AssetCheckSpec(
    names.SCHEMA_CHECK,
    asset=names.CANONICAL_ASSET,
    blocking=True,
    description="The canonical Pandera schema holds for every batch; a failure stops persistence.",
)


def canonical_materialization(canonical: CanonicalSummary, duration_seconds: float) -> dg.MaterializeResult:
    """The asset's metadata and its schema check result, for one attempt of the step."""
    return dg.MaterializeResult(
        asset_key=names.CANONICAL_ASSET,
        metadata={
            "dagster/row_count": canonical.valid,
            "raw_transactions": canonical.raw_transactions,
            "staged": canonical.staged,
            "quarantined": canonical.quarantined,
            "duplicates_dropped": canonical.duplicates_dropped,
            "accounts": canonical.accounts,
            "batches": canonical.batches,
            "amount_minor_total": canonical.amount_minor_total,
            "duration_seconds": round(duration_seconds, 3),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=names.SCHEMA_CHECK,
                asset_key=names.CANONICAL_ASSET,
                passed=canonical.schema.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "num_failures": canonical.schema.num_failures,
                    "failure_sample": dg.MetadataValue.md(canonical.schema.to_markdown()),
                    "quarantined": canonical.quarantined,
                    "quarantine_sample": dg.MetadataValue.md(_quarantine_sample(canonical.quarantine_sample)),
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
