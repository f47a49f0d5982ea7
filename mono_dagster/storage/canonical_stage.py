"""The canonical stage (`canonical_transactions`): one run's validated records, waiting to be persisted.

Staging is idempotent per run: a retried step first deletes what it staged before. On Postgres the
rows go in with COPY (the fast path measured in peers.md §4.1), formatted a column at a time; on
SQLite with executemany.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from mono_dagster.records import CANONICAL_COLUMNS
from mono_dagster.storage.copy_text import copy_chunks, escape
from mono_dagster.storage.frames import canonical_frame, canonical_values, require_columns
from mono_dagster.storage.tables import canonical_transactions

_STAGE_COLUMNS: tuple[str, ...] = ("run_id", *CANONICAL_COLUMNS)


def stage_canonical(conn: sa.Connection, run_id: str, frame: pd.DataFrame) -> int:
    """Replaces the run's stage with the frame's rows; returns how many rows were staged."""
    require_columns(frame, CANONICAL_COLUMNS, "canonical")
    _refuse_duplicate_ids(frame)
    clear_stage(conn, run_id)
    if frame.empty:
        return 0
    if conn.dialect.name == "postgresql":
        _copy_frame(conn, run_id, frame)
        return len(frame)
    rows = [(run_id, *values) for values in zip(*canonical_values(frame), strict=True)]
    conn.execute(sa.insert(canonical_transactions), [dict(zip(_STAGE_COLUMNS, row, strict=True)) for row in rows])
    return len(rows)


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
    """Deletes the run's staged rows; returns how many there were."""
    result = conn.execute(sa.delete(canonical_transactions).where(canonical_transactions.c.run_id == run_id))
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
