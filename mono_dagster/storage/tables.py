"""The pipeline's tables, in one `MetaData`: the single source the Alembic migrations must match.

Every index and constraint has a stable explicit name (the naming convention below, or a short name
where the convention would pass Postgres' 63-character limit), so migrations can refer to them.
This module declares tables only; the functions that read and write them live beside it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from mono_dagster.records import CANONICAL_COLUMNS
from mono_dagster.storage.types import Money, UtcDateTime

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

ACCOUNT_STATUSES: tuple[str, ...] = ("active", "paused", "unlinked")
RESPONSE_SHAPES: tuple[str, ...] = ("v2", "v1", "legacy")
FETCH_STATUSES: tuple[str, ...] = ("ok", "failed")

# SQLite only autoincrements an INTEGER PRIMARY KEY; Postgres gets a 64-bit identity.
AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at",
            UtcDateTime(),
            nullable=False,
            default=utcnow,
            server_default=sa.text("CURRENT_TIMESTAMP"),
        ),
        sa.Column(
            "updated_at",
            UtcDateTime(),
            nullable=False,
            default=utcnow,
            server_default=sa.text("CURRENT_TIMESTAMP"),
        ),
    ]


def canonical_columns() -> list[sa.Column]:
    """Fresh `Column`s for `records.CANONICAL_COLUMNS`, in order (a Column belongs to one table)."""
    columns = [
        sa.Column("transaction_id", sa.String(36), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("provider_transaction_id", sa.String(128), nullable=False),
        sa.Column("account_number_masked", sa.String(16), nullable=True),
        sa.Column("institution", sa.String(128), nullable=True),
        sa.Column("posted_at", UtcDateTime(), nullable=False),
        sa.Column("posted_date", sa.Date(), nullable=False),
        sa.Column("posted_date_lagos", sa.Date(), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("signed_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("signed_amount", Money(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance_after_minor", sa.BigInteger(), nullable=True),
        sa.Column("narration", sa.Text(), nullable=True),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("provider_category", sa.String(128), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        # No foreign key: raw pages are purged after their retention period, the lineage id stays.
        sa.Column("raw_page_id", sa.BigInteger(), nullable=False),
    ]
    assert tuple(column.name for column in columns) == CANONICAL_COLUMNS, "tables.py is out of step with records.py"
    return columns


mono_accounts = sa.Table(
    "mono_accounts",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False, default="default", server_default="default"),
    sa.Column("status", sa.String(16), nullable=False, default="active", server_default="active"),
    sa.Column("shard", sa.Integer(), nullable=False),
    sa.Column("account_number_masked", sa.String(16), nullable=True),
    sa.Column("institution", sa.String(128), nullable=True),
    sa.Column("currency", sa.String(3), nullable=False, default="NGN", server_default="NGN"),
    sa.Column("last_successful_window_start", sa.Date(), nullable=True),
    sa.Column("last_successful_window_end", sa.Date(), nullable=True),
    sa.Column("last_success_at", UtcDateTime(), nullable=True),
    sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("failure_streak", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.Column("last_error", sa.Text(), nullable=True),
    *_timestamps(),
    sa.CheckConstraint(_in("status", ACCOUNT_STATUSES), name="status"),
    sa.Index("ix_mono_accounts_shard", "shard"),
)

mono_raw_pages = sa.Table(
    "mono_raw_pages",
    metadata,
    sa.Column("id", AutoId, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("window_start", sa.Date(), nullable=False),
    sa.Column("window_end", sa.Date(), nullable=False),
    sa.Column("page_number", sa.Integer(), nullable=False),
    sa.Column("response_shape", sa.String(8), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("payload_sha256", sa.String(64), nullable=False),
    sa.Column("transaction_count", sa.Integer(), nullable=False),
    sa.Column("fetched_at", UtcDateTime(), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("correlation_id", sa.String(64), nullable=False),
    sa.UniqueConstraint(
        "account_id",
        "window_start",
        "window_end",
        "page_number",
        "payload_sha256",
        name="uq_mono_raw_pages_page_identity",
    ),
    sa.CheckConstraint(_in("response_shape", RESPONSE_SHAPES), name="response_shape"),
    sa.Index("ix_mono_raw_pages_fetched_at", "fetched_at"),
    sa.Index("ix_mono_raw_pages_run_id", "run_id"),
)

# The fetch log: one row per account window fetched by a run, with the raw pages it returned.
# Raw pages are stored once however often they are fetched, so "the pages of run X" is this log's answer.
mono_fetches = sa.Table(
    "mono_fetches",
    metadata,
    sa.Column("id", AutoId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("correlation_id", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("window_start", sa.Date(), nullable=False),
    sa.Column("window_end", sa.Date(), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("raw_page_ids", sa.Text(), nullable=False),  # JSON array of mono_raw_pages ids, in page order
    sa.Column("transaction_count", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.Column("duplicates_dropped", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.Column("requests", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.Column("retries", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.Column("restarts", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.Column("elapsed_seconds", sa.Float(), nullable=False, default=0.0, server_default="0"),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column(
        "recorded_at",
        UtcDateTime(),
        nullable=False,
        default=utcnow,
        server_default=sa.text("CURRENT_TIMESTAMP"),
    ),
    sa.CheckConstraint(_in("status", FETCH_STATUSES), name="status"),
    sa.Index("ix_mono_fetches_run_id_account_id", "run_id", "account_id"),
)

# UNLOGGED on Postgres: the stage is rebuilt from the raw pages whenever needed, so it skips the WAL
# (its COPY measured 0.62 -> 0.39 s at 90k rows). A server crash empties it; `canonical_stage_counts`
# (logged) is what lets persist notice and refuse instead of persisting a partial run.
canonical_transactions = sa.Table(
    "canonical_transactions",
    metadata,
    sa.Column("run_id", sa.String(64), nullable=False),
    *canonical_columns(),
    sa.PrimaryKeyConstraint("run_id", "transaction_id", name="pk_canonical_transactions"),
)
UNLOGGED_TABLES: tuple[str, ...] = (canonical_transactions.name,)
sa.event.listen(
    canonical_transactions,
    "after_create",
    sa.DDL("ALTER TABLE %(fullname)s SET UNLOGGED").execute_if(dialect="postgresql"),
)

# How many rows the canonical step staged for each run, written in the transaction that staged them.
# Logged (unlike the stage), so it survives the crash that empties the stage.
canonical_stage_counts = sa.Table(
    "canonical_stage_counts",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("staged_rows", sa.Integer(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

bank_transactions = sa.Table(
    "bank_transactions",
    metadata,
    *canonical_columns(),
    sa.Column("first_seen_run_id", sa.String(64), nullable=False),
    sa.Column("last_changed_run_id", sa.String(64), nullable=False),
    sa.Column("correlation_id", sa.String(64), nullable=False),
    sa.Column("change_count", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.Column("missing_fetch_count", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.Column("vanished_at", UtcDateTime(), nullable=True),
    *_timestamps(),
    # One key: transaction_id is the UUIDv5 of (provider, account_id, provider_transaction_id), so a
    # unique index on the natural key as well would say the same thing at the cost of a second index
    # on every insert. The duplicates check still groups by the natural key (see reconciliation.py).
    sa.PrimaryKeyConstraint("transaction_id", name="pk_bank_transactions"),
    sa.CheckConstraint(_in("direction", ("debit", "credit")), name="direction"),
    # Every per-account query: missing marks, balance continuity, duplicates, reconciliation.
    sa.Index("ix_bank_transactions_account_id_posted_date", "account_id", "posted_date"),
    # Partial: holds only rows currently counted missing (a handful), so finding the ones seen again
    # costs nothing however large the table grows.
    sa.Index(
        "ix_bank_transactions_missing",
        "transaction_id",
        postgresql_where=sa.text("missing_fetch_count > 0"),
        sqlite_where=sa.text("missing_fetch_count > 0"),
    ),
)

# The persist ledger: one row per run whose stage was persisted, with what it did. A persist step
# retried after its commit finds its stage gone and its run here, and does nothing again (without
# this, every unseen row of the run's windows would be counted missing a second time).
persisted_runs = sa.Table(
    "persisted_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("correlation_id", sa.String(64), nullable=False),
    sa.Column("persisted_at", UtcDateTime(), nullable=False),
    sa.Column("inserted", sa.Integer(), nullable=False),
    sa.Column("updated", sa.Integer(), nullable=False),
    sa.Column("unchanged", sa.Integer(), nullable=False),
    sa.Column("missing", sa.Integer(), nullable=False),
    sa.Column("vanished", sa.Integer(), nullable=False),
    sa.Column("amount_minor_total", sa.BigInteger(), nullable=False),
)

quarantined_transactions = sa.Table(
    "quarantined_transactions",
    metadata,
    sa.Column("id", AutoId, primary_key=True, autoincrement=True),
    sa.Column("quarantine_key", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("provider_transaction_id", sa.String(128), nullable=True),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("raw_record", sa.Text(), nullable=False),
    sa.Column("raw_page_id", sa.BigInteger(), nullable=True),
    # The latest run that saw this bad row (so "seen in this run" holds on reruns), and the first one.
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("first_run_id", sa.String(64), nullable=False),
    sa.Column("correlation_id", sa.String(64), nullable=False),
    sa.Column("window_start", sa.Date(), nullable=False),
    sa.Column("window_end", sa.Date(), nullable=False),
    sa.Column("quarantined_at", UtcDateTime(), nullable=False),
    sa.Column("last_seen_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("quarantine_key", name="uq_quarantined_transactions_quarantine_key"),
    sa.Index("ix_quarantined_transactions_run_id", "run_id", "account_id", "provider_transaction_id"),
    sa.Index("ix_quarantined_transactions_account_id", "account_id", "provider_transaction_id"),
)

pipeline_events = sa.Table(
    "pipeline_events",
    metadata,
    sa.Column("id", AutoId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_name", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=True),
    sa.Column("correlation_id", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("partition_key", sa.String(128), nullable=True),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column(
        "created_at",
        UtcDateTime(),
        nullable=False,
        default=utcnow,
        server_default=sa.text("CURRENT_TIMESTAMP"),
    ),
    sa.Column("delivered_at", UtcDateTime(), nullable=True),
    sa.Column("delivery_attempts", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.UniqueConstraint("event_id", name="uq_pipeline_events_event_id"),
    sa.Index("ix_pipeline_events_delivered_at_id", "delivered_at", "id"),
)

# Alert de-duplication (notify/): one row per stable key. `open` means sent and not yet resolved, so the
# same key is not sent again by any process; `resolved` (or `unsent`, a delivery that failed) lets it send again.
NOTIFICATION_STATUSES: tuple[str, ...] = ("open", "resolved", "unsent")

alert_notifications = sa.Table(
    "alert_notifications",
    metadata,
    sa.Column("dedup_key", sa.String(255), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("route", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("details", sa.Text(), nullable=False),  # JSON, scrubbed
    sa.Column("send_count", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.Column("opened_at", UtcDateTime(), nullable=False),
    sa.Column("resolved_at", UtcDateTime(), nullable=True),
    sa.CheckConstraint(_in("status", NOTIFICATION_STATUSES), name="status"),
    sa.Index("ix_alert_notifications_status", "status"),
)

# The Mono webhook inbox (issue 6): every verified delivery, stored once (on its delivery key) before
# the receiver answers 200, then acted on in `id` order by the inbox sensor, which records the outcome.
WEBHOOK_OUTCOMES: tuple[str, ...] = (
    "registered",
    "resync_requested",
    "paused",
    "resumed",
    "unlinked",
    "ignored",
    "failed",
)

mono_webhook_inbox = sa.Table(
    "mono_webhook_inbox",
    metadata,
    sa.Column("id", AutoId, primary_key=True, autoincrement=True),
    sa.Column("delivery_key", sa.String(128), nullable=False),  # "event:<Mono id>" or "sha256:<body>:<UTC hour>"
    sa.Column("event_name", sa.String(128), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=True),
    sa.Column("payload", sa.Text(), nullable=False),  # the JSON body, account numbers and BVNs masked
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("processed_at", UtcDateTime(), nullable=True),
    sa.Column("outcome", sa.String(32), nullable=True),
    sa.Column("detail", sa.Text(), nullable=True),
    # JSON: the run the event asked for, so a tick that crashed before returning it can request it again.
    sa.Column("run_request", sa.Text(), nullable=True),
    sa.UniqueConstraint("delivery_key", name="uq_mono_webhook_inbox_delivery_key"),
    sa.CheckConstraint(_in("outcome", WEBHOOK_OUTCOMES), name="outcome"),
    sa.Index("ix_mono_webhook_inbox_processed_at_id", "processed_at", "id"),
)

# Synthetic monitoring (issue 7): one row per synthetic fetch of the designated account, with its latency,
# outcome and failure streak. `streak_key` names the failure streak (the on-call alert's dedup key);
# `paged` says this check sent the page. It never holds transactions.
synthetic_checks = sa.Table(
    "synthetic_checks",
    metadata,
    sa.Column("id", AutoId, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("checked_at", UtcDateTime(), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("window_start", sa.Date(), nullable=False),
    sa.Column("window_end", sa.Date(), nullable=False),
    sa.Column("ok", sa.Boolean(), nullable=False),
    sa.Column("latency_seconds", sa.Float(), nullable=False),
    sa.Column("transaction_count", sa.Integer(), nullable=True),
    sa.Column("requests", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.Column("error_class", sa.String(128), nullable=True),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),  # scrubbed
    sa.Column("consecutive_failures", sa.Integer(), nullable=False, default=0, server_default="0"),
    sa.Column("streak_key", sa.String(255), nullable=True),
    sa.Column("paged", sa.Boolean(), nullable=False, default=False, server_default=sa.false()),
    sa.Column("alert_error", sa.Text(), nullable=True),  # a page or resolve that could not be delivered
    sa.Index("ix_synthetic_checks_account_id_id", "account_id", "id"),
)
