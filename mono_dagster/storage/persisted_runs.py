"""The persist ledger (`persisted_runs`): which runs' stages were persisted, and what that did.

It makes `persist_staged` idempotent per run even after its commit: the stage is deleted by the
persist, so a retried persist would otherwise see an empty stage and count every row of the run's
complete windows missing again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa

from mono_dagster.storage.sql import dialect_insert
from mono_dagster.storage.tables import persisted_runs


@dataclass(frozen=True)
class PersistStats:
    inserted: int
    updated: int
    unchanged: int
    missing: int  # rows of a complete window not returned this time (including the newly vanished)
    vanished: int  # rows flagged vanished by this run
    amount_minor_total: int  # sum of amount_minor over inserted and updated rows
    # True when the run had been persisted already and these are the ledger's figures: nothing was
    # written this time (a step retried after its commit).
    replayed: bool = False


_COUNTS = ("inserted", "updated", "unchanged", "missing", "vanished", "amount_minor_total")


def persisted_run_stats(conn: sa.Connection, run_id: str) -> PersistStats | None:
    """What persisting the run did, from the ledger; None when the run was never persisted."""
    row = conn.execute(
        sa.select(*(persisted_runs.c[name] for name in _COUNTS)).where(persisted_runs.c.run_id == run_id)
    ).one_or_none()
    if row is None:
        return None
    return PersistStats(**{name: int(value) for name, value in zip(_COUNTS, row, strict=True)}, replayed=True)


def record_persisted_run(
    conn: sa.Connection, run_id: str, correlation_id: str, stats: PersistStats, now: datetime
) -> None:
    values = {name: value for name, value in asdict(stats).items() if name in _COUNTS}
    insert = dialect_insert(conn, persisted_runs).values(
        run_id=run_id, correlation_id=correlation_id, persisted_at=now, **values
    )
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["run_id"],
            set_={"correlation_id": correlation_id, "persisted_at": now, **values},
        )
    )
