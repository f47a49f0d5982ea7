"""Synthetic monitoring and tenant rate limits (issue 7): the `synthetic_checks` table.

Tenant budgets need no table of ours: PyrateLimiter keeps its own per-tenant log tables
(`ratelimit___mono_tenant_*`, created on first use) in the store `MONO_TENANT_RATE_LIMIT_STORE` names.
Written by hand to match `storage/tables.py`; types are spelled out here so this revision never moves.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "synthetic_checks",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("latency_seconds", sa.Float(), nullable=False),
        sa.Column("transaction_count", sa.Integer(), nullable=True),
        sa.Column("requests", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error_class", sa.String(128), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("streak_key", sa.String(255), nullable=True),
        sa.Column("paged", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("alert_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_synthetic_checks")),
    )
    op.create_index(op.f("ix_synthetic_checks_account_id_id"), "synthetic_checks", ["account_id", "id"])


def downgrade() -> None:
    op.drop_table("synthetic_checks")
