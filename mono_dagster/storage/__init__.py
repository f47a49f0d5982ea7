"""Storage: the pipeline's own database, in SQLAlchemy Core, on SQLite (embedded) or Postgres.

Tables (`tables`), migrations (`migrate`), and plain functions that take the caller's `Connection`
and never commit, so the pipeline decides what shares a transaction. Nothing here imports Dagster.
"""

from mono_dagster.storage.accounts import (
    AccountRecord,
    AccountRow,
    UnknownAccountError,
    list_accounts,
    record_sync_failure,
    record_sync_success,
    register_accounts,
    set_account_status,
    shard_for,
)
from mono_dagster.storage.balance_checks import balance_breaks, balance_breaks_by_account
from mono_dagster.storage.bank_transactions import PersistStats, persist_staged
from mono_dagster.storage.canonical_stage import clear_stage, load_staged, stage_canonical
from mono_dagster.storage.engine import create_db_engine, describe_url, dispose_engines, resolve_database_url
from mono_dagster.storage.fetch_log import (
    FetchRecord,
    FetchRow,
    failed_fetches,
    fetches_for_runs,
    record_fetch,
    successful_fetches,
)
from mono_dagster.storage.migrate import (
    SchemaNotCurrentError,
    current_revision,
    ensure_schema_current,
    head_revision,
    upgrade_database,
)
from mono_dagster.storage.outbox import (
    PipelineEvent,
    StoredEvent,
    append_events,
    mark_delivered,
    record_failed_delivery,
    undelivered_events,
)
from mono_dagster.storage.quarantine import count_quarantined, quarantine_rows
from mono_dagster.storage.raw_pages import (
    RawPageRecord,
    RawPageRow,
    load_raw_pages,
    purge_raw_pages,
    store_raw_pages,
)
from mono_dagster.storage.reconciliation import (
    BalanceBreak,
    DuplicateKey,
    accounts_without_recent_success,
    duplicate_keys,
)

__all__ = [
    "AccountRecord",
    "AccountRow",
    "BalanceBreak",
    "DuplicateKey",
    "FetchRecord",
    "FetchRow",
    "PersistStats",
    "PipelineEvent",
    "RawPageRecord",
    "RawPageRow",
    "SchemaNotCurrentError",
    "StoredEvent",
    "UnknownAccountError",
    "accounts_without_recent_success",
    "append_events",
    "balance_breaks",
    "balance_breaks_by_account",
    "clear_stage",
    "count_quarantined",
    "create_db_engine",
    "current_revision",
    "describe_url",
    "dispose_engines",
    "duplicate_keys",
    "ensure_schema_current",
    "failed_fetches",
    "fetches_for_runs",
    "head_revision",
    "list_accounts",
    "load_raw_pages",
    "load_staged",
    "mark_delivered",
    "persist_staged",
    "purge_raw_pages",
    "quarantine_rows",
    "record_failed_delivery",
    "record_fetch",
    "record_sync_failure",
    "record_sync_success",
    "register_accounts",
    "resolve_database_url",
    "set_account_status",
    "shard_for",
    "stage_canonical",
    "store_raw_pages",
    "successful_fetches",
    "undelivered_events",
    "upgrade_database",
]
