"""Finding and clearing what runs left in the canonical stage: a run that died (or failed) before its
persist cleared its stage leaves its rows and its staged count behind for good."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from mono_dagster.storage.canonical_stage import clear_stage
from mono_dagster.storage.tables import canonical_stage_counts, canonical_transactions


def staged_run_ids(conn: sa.Connection) -> list[str]:
    """Every run that has rows or a staged count in the stage."""
    query = sa.union(sa.select(canonical_transactions.c.run_id).distinct(), sa.select(canonical_stage_counts.c.run_id))
    return sorted(str(run_id) for (run_id,) in conn.execute(query))


def clear_stages(conn: sa.Connection, run_ids: Sequence[str]) -> int:
    """Clears the stage of each run; returns how many rows were deleted."""
    return sum(clear_stage(conn, run_id) for run_id in run_ids)
