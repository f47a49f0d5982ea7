"""Escalations and notification de-duplication (issue 4): the `alert_notifications` table.

Written by hand to match `storage/tables.py`; types are spelled out here so this revision never moves.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_notifications",
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("send_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("dedup_key", name=op.f("pk_alert_notifications")),
        sa.CheckConstraint("status IN ('open', 'resolved', 'unsent')", name=op.f("ck_alert_notifications_status")),
    )
    op.create_index(op.f("ix_alert_notifications_status"), "alert_notifications", ["status"])


def downgrade() -> None:
    op.drop_table("alert_notifications")
