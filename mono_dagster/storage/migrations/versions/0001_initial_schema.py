"""Initial schema: account registry, raw pages, fetch log, canonical stage, bank transactions, the
persist ledger, quarantine and the event outbox.

Written by hand to match `storage/tables.py` as it was at this revision; later revisions change the
schema, never this file. Types are spelled out here (not imported) so this revision never moves.

Revision ID: 0001
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOW = sa.text("CURRENT_TIMESTAMP")


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    ]


def _canonical_columns() -> list[sa.Column]:
    return [
        sa.Column("transaction_id", sa.String(36), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("provider_transaction_id", sa.String(128), nullable=False),
        sa.Column("account_number_masked", sa.String(16), nullable=True),
        sa.Column("institution", sa.String(128), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_date", sa.Date(), nullable=False),
        sa.Column("posted_date_lagos", sa.Date(), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("signed_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("signed_amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance_after_minor", sa.BigInteger(), nullable=True),
        sa.Column("narration", sa.Text(), nullable=True),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("provider_category", sa.String(128), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("raw_page_id", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "mono_accounts",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False, server_default="default"),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("account_number_masked", sa.String(16), nullable=True),
        sa.Column("institution", sa.String(128), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False, server_default="NGN"),
        sa.Column("last_successful_window_start", sa.Date(), nullable=True),
        sa.Column("last_successful_window_end", sa.Date(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_streak", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_mono_accounts")),
        sa.CheckConstraint("status IN ('active', 'paused', 'unlinked')", name=op.f("ck_mono_accounts_status")),
    )
    op.create_index(op.f("ix_mono_accounts_shard"), "mono_accounts", ["shard"])

    op.create_table(
        "mono_raw_pages",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("page_number", sa.Integer(), nullable=False),
        sa.Column("response_shape", sa.String(8), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("transaction_count", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mono_raw_pages")),
        sa.UniqueConstraint(
            "account_id",
            "window_start",
            "window_end",
            "page_number",
            "payload_sha256",
            name=op.f("uq_mono_raw_pages_page_identity"),
        ),
        sa.CheckConstraint("response_shape IN ('v2', 'v1', 'legacy')", name=op.f("ck_mono_raw_pages_response_shape")),
    )
    op.create_index(op.f("ix_mono_raw_pages_fetched_at"), "mono_raw_pages", ["fetched_at"])
    op.create_index(op.f("ix_mono_raw_pages_run_id"), "mono_raw_pages", ["run_id"])

    op.create_table(
        "mono_fetches",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("raw_page_ids", sa.Text(), nullable=False),
        sa.Column("transaction_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("duplicates_dropped", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("requests", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("retries", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("restarts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("elapsed_seconds", sa.Float(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mono_fetches")),
        sa.CheckConstraint("status IN ('ok', 'failed')", name=op.f("ck_mono_fetches_status")),
    )
    op.create_index(op.f("ix_mono_fetches_run_id_account_id"), "mono_fetches", ["run_id", "account_id"])

    op.create_table(
        "canonical_transactions",
        sa.Column("run_id", sa.String(64), nullable=False),
        *_canonical_columns(),
        sa.PrimaryKeyConstraint("run_id", "transaction_id", name=op.f("pk_canonical_transactions")),
    )

    op.create_table(
        "bank_transactions",
        *_canonical_columns(),
        sa.Column("first_seen_run_id", sa.String(64), nullable=False),
        sa.Column("last_changed_run_id", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("change_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("missing_fetch_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("vanished_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("provider", "account_id", "provider_transaction_id", name=op.f("pk_bank_transactions")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_bank_transactions_transaction_id")),
        sa.CheckConstraint("direction IN ('debit', 'credit')", name=op.f("ck_bank_transactions_direction")),
    )
    op.create_index(
        op.f("ix_bank_transactions_account_id_posted_date"),
        "bank_transactions",
        ["account_id", "posted_date"],
    )
    op.create_index(
        op.f("ix_bank_transactions_missing"),
        "bank_transactions",
        ["transaction_id"],
        postgresql_where=sa.text("missing_fetch_count > 0"),
        sqlite_where=sa.text("missing_fetch_count > 0"),
    )

    op.create_table(
        "persisted_runs",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("persisted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("vanished", sa.Integer(), nullable=False),
        sa.Column("amount_minor_total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_persisted_runs")),
    )

    op.create_table(
        "quarantined_transactions",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("quarantine_key", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("provider_transaction_id", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw_record", sa.Text(), nullable=False),
        sa.Column("raw_page_id", sa.BigInteger(), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("first_run_id", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_transactions")),
        sa.UniqueConstraint("quarantine_key", name=op.f("uq_quarantined_transactions_quarantine_key")),
    )
    op.create_index(
        op.f("ix_quarantined_transactions_run_id"),
        "quarantined_transactions",
        ["run_id", "account_id", "provider_transaction_id"],
    )
    op.create_index(
        op.f("ix_quarantined_transactions_account_id"),
        "quarantined_transactions",
        ["account_id", "provider_transaction_id"],
    )

    op.create_table(
        "pipeline_events",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_name", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("partition_key", sa.String(128), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivery_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_pipeline_events_event_id")),
    )
    op.create_index(op.f("ix_pipeline_events_delivered_at_id"), "pipeline_events", ["delivered_at", "id"])


def downgrade() -> None:
    for table in (
        "pipeline_events",
        "quarantined_transactions",
        "persisted_runs",
        "bank_transactions",
        "canonical_transactions",
        "mono_fetches",
        "mono_raw_pages",
        "mono_accounts",
    ):
        op.drop_table(table)
