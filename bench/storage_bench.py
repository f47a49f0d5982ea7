"""Storage benchmark on Postgres: stage + persist 91,250 canonical rows, then replay them unchanged.

Uses `MONO_DAGSTER_BENCH_PG_URL` when set (the tables are created there by migration), otherwise a
fresh database on 127.0.0.1 that is dropped afterwards. Prints rows/s for each phase.

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
        if os.environ.get("MONO_DAGSTER_BENCH_PG_URL"):
            print("(tables left in place in MONO_DAGSTER_BENCH_PG_URL's database)")


if __name__ == "__main__":
    main()
