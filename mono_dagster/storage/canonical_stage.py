"""The canonical stage (`canonical_transactions`): one run's validated records, waiting to be persisted.

The stage is UNLOGGED on Postgres, so a server crash empties it. Every write to it also records, in
the same transaction, how many rows the run has staged (`canonical_stage_counts`, a logged table);
persist compares the two (`check_stage_complete`) and refuses a stage that lost rows.

Staging is idempotent per run: `stage_canonical` first clears what the run staged before;
`append_to_stage` adds one chunk at a time (a run staged while it is still fetching). On Postgres the
rows go in with COPY (the fast path measured in peers.md §4.1), formatted a column at a time; on
SQLite with executemany.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from mono_dagster.records import CANONICAL_COLUMNS
from mono_dagster.storage.copy_text import copy_chunks, escape
from mono_dagster.storage.frames import canonical_frame, canonical_values, require_columns
from mono_dagster.storage.sql import dialect_insert
from mono_dagster.storage.tables import canonical_stage_counts, canonical_transactions, utcnow

_STAGE_COLUMNS: tuple[str, ...] = ("run_id", *CANONICAL_COLUMNS)


class StageIncompleteError(ValueError):
    """The stage holds fewer rows than the canonical step recorded for the run (e.g. after a crash)."""

    def __init__(self, run_id: str, expected: int, found: int) -> None:
        self.run_id, self.expected, self.found = run_id, expected, found
        super().__init__(
            f"canonical stage of run {run_id} holds {found} of the {expected} rows the canonical step staged "
            "(a database crash empties the unlogged stage); nothing was persisted: re-run the partition, "
            "which stages the run again"
        )


def stage_canonical(conn: sa.Connection, run_id: str, frame: pd.DataFrame) -> int:
    """Replaces the run's stage with the frame's rows; returns how many rows were staged."""
    _check_frame(frame)  # before clearing: a refused frame leaves the previous stage alone
    clear_stage(conn, run_id)
    return _append(conn, run_id, frame, utcnow())


def append_to_stage(conn: sa.Connection, run_id: str, frame: pd.DataFrame, *, now: datetime | None = None) -> int:
    """Adds the frame's rows to the run's stage and to its recorded count; returns how many were added.

    Both happen on the caller's connection, so they commit (or roll back) together. A row already
    staged for the run breaks the stage's primary key: chunks of one run must not overlap.
    """
    _check_frame(frame)
    return _append(conn, run_id, frame, now or utcnow())


def _append(conn: sa.Connection, run_id: str, frame: pd.DataFrame, now: datetime) -> int:
    if not frame.empty:
        try:
            _insert_rows(conn, run_id, frame)
        except Exception as exc:
            if (detail := _unique_violation(exc)) is not None:
                raise ValueError(f"chunk repeats a transaction already staged for run {run_id}: {detail}") from exc
            raise
    _add_to_count(conn, run_id, len(frame), now)
    return len(frame)


def staged_count(conn: sa.Connection, run_id: str) -> int | None:
    """How many rows the canonical step recorded staging for the run; None when it recorded nothing."""
    counts = canonical_stage_counts
    value = conn.execute(sa.select(counts.c.staged_rows).where(counts.c.run_id == run_id)).scalar_one_or_none()
    return None if value is None else int(value)


def rows_in_stage(conn: sa.Connection, run_id: str) -> int:
    """How many rows the stage holds for the run right now."""
    stage = canonical_transactions
    return int(conn.execute(sa.select(sa.func.count()).where(stage.c.run_id == run_id)).scalar_one())


def check_stage_complete(conn: sa.Connection, run_id: str, found: int) -> None:
    """Raises `StageIncompleteError` when the stage holds fewer rows (`found`) than were recorded.

    A run with no recorded count (staged before the count existed) is not checked.
    """
    expected = staged_count(conn, run_id)
    if expected is not None and found < expected:
        raise StageIncompleteError(run_id, expected, found)


def _insert_rows(conn: sa.Connection, run_id: str, frame: pd.DataFrame) -> None:
    if conn.dialect.name == "postgresql":
        _copy_frame(conn, run_id, frame)
        return
    values = zip(*canonical_values(frame), strict=True)
    rows = [dict(zip(_STAGE_COLUMNS, (run_id, *row), strict=True)) for row in values]
    conn.execute(sa.insert(canonical_transactions), rows)


def _unique_violation(exc: Exception) -> str | None:
    """The one-line detail of a unique violation (COPY raises the driver's error, SQLite's insert
    SQLAlchemy's), or None for any other error."""
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    if getattr(cause, "sqlstate", None) == "23505":
        return getattr(getattr(cause, "diag", None), "message_detail", None) or str(cause).splitlines()[0]
    if isinstance(exc, sa.exc.IntegrityError) and "UNIQUE" in str(cause):
        return str(cause).splitlines()[0]
    return None


def _check_frame(frame: pd.DataFrame) -> None:
    require_columns(frame, CANONICAL_COLUMNS, "canonical")
    _refuse_duplicate_ids(frame)


def _add_to_count(conn: sa.Connection, run_id: str, rows: int, now: datetime) -> None:
    counts = canonical_stage_counts
    insert = dialect_insert(conn, counts).values(run_id=run_id, staged_rows=rows, updated_at=now)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["run_id"],
            set_={"staged_rows": counts.c.staged_rows + insert.excluded.staged_rows, "updated_at": now},
        )
    )


def load_staged(conn: sa.Connection, run_id: str) -> pd.DataFrame:
    """The run's staged rows as a canonical frame (the transform's columns and dtypes)."""
    table = canonical_transactions
    query = (
        sa.select(*(table.c[column] for column in CANONICAL_COLUMNS))
        .where(table.c.run_id == run_id)
        .order_by(table.c.account_id, table.c.posted_at, table.c.provider_transaction_id)
    )
    return canonical_frame([tuple(row) for row in conn.execute(query)])


def clear_stage(conn: sa.Connection, run_id: str) -> int:
    """Deletes the run's staged rows and its recorded count; returns how many rows there were."""
    result = conn.execute(sa.delete(canonical_transactions).where(canonical_transactions.c.run_id == run_id))
    conn.execute(sa.delete(canonical_stage_counts).where(canonical_stage_counts.c.run_id == run_id))
    return int(result.rowcount)


def _refuse_duplicate_ids(frame: pd.DataFrame) -> None:
    # A repeated id would break the stage's primary key, and a repeated natural key would make the
    # persist upsert touch one row twice; the transform deduplicates, so this is a contract breach.
    repeated = frame["transaction_id"][frame["transaction_id"].duplicated()]
    if not repeated.empty:
        sample = ", ".join(map(str, repeated.unique()[:5]))
        raise ValueError(f"canonical frame repeats {len(repeated)} transaction_id(s), e.g. {sample}")


def _copy_frame(conn: sa.Connection, run_id: str, frame: pd.DataFrame) -> None:
    """COPY the frame as text built a column at a time (see `copy_text`), in the caller's transaction."""
    from psycopg import sql  # Postgres only: SQLite deployments never import the driver

    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(canonical_transactions.name),
        columns=sql.SQL(", ").join(sql.Identifier(column) for column in _STAGE_COLUMNS),
    )
    # The DBAPI connection under SQLAlchemy's: the COPY runs inside the caller's transaction.
    driver_connection = conn.connection.driver_connection
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for chunk in copy_chunks(frame, CANONICAL_COLUMNS, leading=[escape(run_id)]):
            copy.write(chunk)
