"""Storage benchmark on Postgres: stage + persist 91,250 canonical rows, then replay them unchanged.

Uses `MONO_DAGSTER_BENCH_PG_URL` when set (the tables are created there by migration), otherwise a
fresh database on 127.0.0.1 that is dropped afterwards. Prints rows/s for each phase, and first the
three ways to COPY the stage: the column-wise text encoder (`storage/copy_text.py`, what staging
uses), psycopg's `write_row` in text format, and `write_row` in binary format.

    .venv/bin/python bench/storage_bench.py [--accounts 250] [--days 365]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from mono_dagster.records import CANONICAL_COLUMNS
from mono_dagster.storage import (
    create_db_engine,
    describe_url,
    dispose_engines,
    persist_staged,
    stage_canonical,
    upgrade_database,
)
from mono_dagster.storage.copy_text import copy_chunks, escape
from mono_dagster.storage.frames import canonical_values
from mono_dagster.storage.tables import canonical_transactions

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
START = date(2024, 1, 1)


@contextmanager
def bench_database():
    configured = os.environ.get("MONO_DAGSTER_BENCH_PG_URL")
    if configured:
        yield configured
        return
    name = f"mono_dagster_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def synthetic_frame(accounts: int, days: int, *, version: int = 0) -> pd.DataFrame:
    """accounts x days canonical rows with the transform's dtypes, one transaction a day each."""
    n = accounts * days
    account_ids = np.repeat([f"acc-{index:05d}" for index in range(accounts)], days)
    day = np.tile(np.arange(days), accounts)
    provider_ids = [f"{account}-{d:04d}" for account, d in zip(account_ids, day, strict=True)]
    amount_minor = (day % 97 + 1) * 1_000 + np.repeat(np.arange(accounts), days)
    posted_at = pd.Series(pd.Timestamp(START, tz=UTC) + pd.to_timedelta(day * 86_400 + 3_600 * 9, unit="s"))
    narration = [f"NIP TRANSFER {index} v{version}" for index in range(n)]
    hashes = [hashlib.sha256(text.encode()).hexdigest() for text in narration]
    frame = pd.DataFrame(
        {
            "transaction_id": [str(uuid.uuid5(uuid.NAMESPACE_URL, key)) for key in provider_ids],
            "provider": "mono",
            "account_id": account_ids.astype(object),
            "provider_transaction_id": provider_ids,
            "account_number_masked": "******1234",
            "institution": "GTBank",
            "posted_at": posted_at,
            "posted_date": [START + timedelta(days=int(d)) for d in day],
            "posted_date_lagos": [START + timedelta(days=int(d)) for d in day],
            "direction": "credit",
            "amount_minor": amount_minor.astype("int64"),
            "amount": [Decimal(int(value)) / 100 for value in amount_minor],
            "signed_amount_minor": amount_minor.astype("int64"),
            "signed_amount": [Decimal(int(value)) / 100 for value in amount_minor],
            "currency": "NGN",
            "balance_after_minor": pd.array(np.cumsum(amount_minor), dtype="Int64"),
            "narration": narration,
            "category": "transfer",
            "provider_category": None,
            "channel": "NIP",
            "content_hash": hashes,
            "raw_page_id": np.ones(n, dtype="int64"),
        },
        columns=list(CANONICAL_COLUMNS),
    )
    return frame


# Postgres types of the stage's columns, for binary COPY (which sends no type names of its own).
_BINARY_TYPES = {
    sa.String: "text",
    sa.Text: "text",
    sa.BigInteger: "int8",
    sa.Integer: "int4",
    sa.Date: "date",
}
COPY_REPEATS = 5


def _stage_types() -> list[str]:
    types = []
    for column in canonical_transactions.columns:
        kind = column.type
        if column.name == "posted_at":
            types.append("timestamptz")
        elif column.name in ("amount", "signed_amount"):
            types.append("numeric")
        else:
            types.append(next(name for base, name in _BINARY_TYPES.items() if isinstance(kind, base)))
    return types


def _copy_statement(binary: bool):
    from psycopg import sql

    return sql.SQL("COPY {table} ({columns}) FROM STDIN{binary}").format(
        table=sql.Identifier(canonical_transactions.name),
        columns=sql.SQL(", ").join(sql.Identifier(column.name) for column in canonical_transactions.columns),
        binary=sql.SQL(" (FORMAT BINARY)" if binary else ""),
    )


def _copy_text_encoder(cursor, run_id: str, frame: pd.DataFrame) -> None:
    with cursor.copy(_copy_statement(binary=False)) as copy:
        for chunk in copy_chunks(frame, CANONICAL_COLUMNS, leading=[escape(run_id)]):
            copy.write(chunk)


def _copy_write_row(cursor, run_id: str, frame: pd.DataFrame, *, binary: bool) -> None:
    with cursor.copy(_copy_statement(binary=binary)) as copy:
        if binary:
            copy.set_types(_stage_types())
        for values in zip(*canonical_values(frame), strict=True):
            copy.write_row((run_id, *values))


def _backend_cpu_seconds(conn: sa.Connection) -> float:
    """CPU seconds the connection's Postgres backend has used (the server runs on this machine)."""
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def compare_copy_encoders(engine: sa.Engine, frame: pd.DataFrame) -> None:
    """Best of COPY_REPEATS runs of each way to COPY the frame into the stage, each rolled back.

    Besides wall time it prints the CPU each side spent: on 2 cores the pipeline's Python process
    (transform and encoder share one GIL) and the server compete, so CPU is what a loaded box pays.
    """
    encoders = {
        "text encoder (copy_text)": lambda cursor: _copy_text_encoder(cursor, "copy-bench", frame),
        "write_row, text format": lambda cursor: _copy_write_row(cursor, "copy-bench", frame, binary=False),
        "write_row, binary format": lambda cursor: _copy_write_row(cursor, "copy-bench", frame, binary=True),
    }
    timings: dict[str, list[tuple[float, float, float]]] = {label: [] for label in encoders}
    for _ in range(COPY_REPEATS):  # round robin, so a burst of load elsewhere hits every encoder alike
        for label, encode in encoders.items():
            with engine.connect() as conn:
                driver = conn.connection.driver_connection
                server_started = _backend_cpu_seconds(conn)
                started, cpu_started = time.perf_counter(), time.process_time()
                with driver.cursor() as cursor:
                    encode(cursor)
                wall, client = time.perf_counter() - started, time.process_time() - cpu_started
                timings[label].append((wall, client, _backend_cpu_seconds(conn) - server_started))
                conn.rollback()
                # The rolled-back rows stay as dead tuples and index entries: start every COPY clean.
                conn.exec_driver_sql("TRUNCATE canonical_transactions")
                conn.commit()
    for label, runs in timings.items():
        best, client, server = min(runs)
        print(
            f"COPY {label:<26} {len(frame):>7,} rows  best {best:5.2f}s of {COPY_REPEATS} "
            f"({len(frame) / best:>9,.0f} rows/s); CPU: Python {client:4.2f}s, Postgres {server:4.2f}s"
        )


def run_phase(engine: sa.Engine, label: str, frame: pd.DataFrame, windows: list, run_id: str) -> None:
    started = time.perf_counter()
    with engine.begin() as conn:
        staged = stage_canonical(conn, run_id, frame)
        staged_at = time.perf_counter()
        stats = persist_staged(
            conn, run_id, correlation_id=f"corr-{run_id}", complete_windows=windows, now=datetime.now(UTC)
        )
        persisted_at = time.perf_counter()
    committed_at = time.perf_counter()
    total = committed_at - started
    print(
        f"{label:<22} {staged:>7,} rows  stage {staged_at - started:6.2f}s "
        f"({staged / (staged_at - started):>9,.0f} rows/s)  persist {persisted_at - staged_at:6.2f}s "
        f"({staged / (persisted_at - staged_at):>9,.0f} rows/s)  total with commit {total:6.2f}s "
        f"({staged / total:>9,.0f} rows/s)"
    )
    print(
        f"{'':<22} inserted {stats.inserted:,} updated {stats.updated:,} unchanged {stats.unchanged:,} "
        f"missing {stats.missing:,} vanished {stats.vanished:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=250)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    built = time.perf_counter()
    frame = synthetic_frame(args.accounts, args.days)
    changed = synthetic_frame(args.accounts, args.days, version=1)
    print(f"built 2 x {len(frame):,} synthetic rows in {time.perf_counter() - built:.2f}s")
    end = START + timedelta(days=args.days - 1)
    windows = [(f"acc-{index:05d}", START, end) for index in range(args.accounts)]
    with bench_database() as url:
        print(f"database {describe_url(url)}")
        upgrade_database(url)
        engine = create_db_engine(url)
        run_phase(engine, "first load", frame, windows, "bench-run-1")
        run_phase(engine, "no-op replay", frame, windows, "bench-run-2")
        ten_percent = frame.copy()
        mask = np.arange(len(frame)) % 10 == 0
        for column in ("narration", "content_hash"):
            ten_percent.loc[mask, column] = changed.loc[mask, column]
        run_phase(engine, "replay, 10% changed", ten_percent, windows, "bench-run-3")
        compare_copy_encoders(engine, frame)  # last: it empties the stage table with TRUNCATE
        if os.environ.get("MONO_DAGSTER_BENCH_PG_URL"):
            print("(tables left in place in MONO_DAGSTER_BENCH_PG_URL's database)")


if __name__ == "__main__":
    main()
