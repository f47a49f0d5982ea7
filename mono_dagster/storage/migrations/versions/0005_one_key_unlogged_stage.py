"""One key for `bank_transactions`, an UNLOGGED canonical stage, and the staged-count guard (issue 13).

- `bank_transactions`: the primary key becomes `transaction_id` (the UUIDv5 of the natural key); the
  composite primary key on (provider, account_id, provider_transaction_id) and the separate unique
  constraint on `transaction_id` go. Rows are kept. SQLite rebuilds the table (batch mode); Postgres
  alters it in place (one index build).
- `canonical_transactions` is UNLOGGED on Postgres (no WAL; a server crash empties it).
- `canonical_stage_counts`: how many rows the canonical step staged per run (logged), which persist
  compares with the stage before writing anything.

The downgrade restores the composite key; it fails (and changes nothing) if two rows share a natural
key, which only the new schema allows: the duplicates check reports such rows.

Written by hand to match `storage/tables.py`; types are spelled out here so this revision never moves.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NATURAL_KEY = ["provider", "account_id", "provider_transaction_id"]
MISSING_INDEX = "ix_bank_transactions_missing"


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    _rekey_bank_transactions(primary=["transaction_id"], unique_transaction_id=False)
    if _is_postgres():
        op.execute("ALTER TABLE canonical_transactions SET UNLOGGED")
    op.create_table(
        "canonical_stage_counts",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("staged_rows", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_canonical_stage_counts")),
    )


def downgrade() -> None:
    op.drop_table("canonical_stage_counts")
    if _is_postgres():
        op.execute("ALTER TABLE canonical_transactions SET LOGGED")
    _rekey_bank_transactions(primary=NATURAL_KEY, unique_transaction_id=True)


def _rekey_bank_transactions(*, primary: list[str], unique_transaction_id: bool) -> None:
    if _is_postgres():
        if not unique_transaction_id:
            op.drop_constraint("uq_bank_transactions_transaction_id", "bank_transactions", type_="unique")
        op.drop_constraint("pk_bank_transactions", "bank_transactions", type_="primary")
        op.create_primary_key("pk_bank_transactions", "bank_transactions", primary)
        if unique_transaction_id:
            op.create_unique_constraint("uq_bank_transactions_transaction_id", "bank_transactions", ["transaction_id"])
        return
    # SQLite cannot alter a primary key: batch mode copies the rows into a rebuilt table. The partial
    # index is dropped and made again around it so its WHERE clause is written out, not reflected.
    op.drop_index(MISSING_INDEX, "bank_transactions")
    with op.batch_alter_table("bank_transactions", recreate="always") as batch:
        if not unique_transaction_id:
            batch.drop_constraint("uq_bank_transactions_transaction_id", type_="unique")
        batch.drop_constraint("pk_bank_transactions", type_="primary")
        batch.create_primary_key("pk_bank_transactions", primary)
        if unique_transaction_id:
            batch.create_unique_constraint("uq_bank_transactions_transaction_id", ["transaction_id"])
    op.create_index(
        MISSING_INDEX,
        "bank_transactions",
        ["transaction_id"],
        sqlite_where=sa.text("missing_fetch_count > 0"),
    )
