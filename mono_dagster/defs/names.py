"""Names of the group, the checks and the pool: constants, so checks, sensors and tests agree."""

from __future__ import annotations

from typing import Final

GROUP: Final = "mono_transactions"
MONO_POOL: Final = "mono_api"
OWNERS: Final = ["team:data-platform"]

RAW_ASSET: Final = "mono_raw_transactions"
CANONICAL_ASSET: Final = "canonical_transactions"
PERSISTED_ASSET: Final = "bank_transactions"
# The one step that computes the raw and the canonical asset keeps the raw asset's name, so run config
# (`ops: {mono_raw_transactions: {config: {accounts: [...]}}}`) and step keys stay as they were.
SYNC_STEP: Final = RAW_ASSET

SCHEMA_CHECK: Final = "canonical_schema_valid"
ACCOUNTS_SYNCED_CHECK: Final = "all_accounts_synced"
RECONCILIATION_CHECK: Final = "raw_equals_persisted_plus_quarantined"
DUPLICATES_CHECK: Final = "no_duplicate_transactions"
BALANCE_CHECK: Final = "balance_continuity"
FRESHNESS_CHECK: Final = "accounts_synced_within_26_hours"
