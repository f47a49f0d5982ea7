"""The Mono webhook inbox (issue 6): verified deliveries, stored once, acted on by the inbox sensor.

Written by hand to match `storage/tables.py` as it was at this revision; types are spelled out here
(not imported) so this revision never moves.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mono_webhook_inbox",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("delivery_key", sa.String(128), nullable=False),
        sa.Column("event_name", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("run_request", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mono_webhook_inbox")),
        sa.UniqueConstraint("delivery_key", name=op.f("uq_mono_webhook_inbox_delivery_key")),
        sa.CheckConstraint(
            "outcome IN ('registered', 'resync_requested', 'paused', 'resumed', 'unlinked', 'ignored', 'failed')",
            name=op.f("ck_mono_webhook_inbox_outcome"),
        ),
    )
    op.create_index(op.f("ix_mono_webhook_inbox_processed_at_id"), "mono_webhook_inbox", ["processed_at", "id"])


def downgrade() -> None:
    op.drop_table("mono_webhook_inbox")
