"""Fleet benchmark: the shape of the real daily sync, through `mono-dagster backfill` on Postgres.

Default: 2,000 accounts x 8 days x 3 transactions a day (48,000 rows, one window per account). The
sandbox runs in its own process and answers at once (no faults); the pipeline database and the Dagster
instance (run, event and schedule storage through dagster-postgres, the repository's `dagster.yaml`)
are fresh Postgres databases. `backfill` runs as a subprocess without `--account`, so it discovers the
accounts through `GET /v2/accounts` and registers them, then runs one Dagster run per shard.

Prints wall time, rows/s, Mono requests, the time the fetches took (from the fetch log) and the rest
per account: the pipeline's own overhead. Database transactions per account show whether the writes
are batched per run (constant) or per account (grows with the fleet).

    .venv/bin/python bench/fleet_bench.py [--accounts 2000 --days 8 --per-day 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from fetch_bench import SECRET, start_sandbox

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def create_database(admin: sa.Engine, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return name


def drop_database(admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def transactions_committed(admin: sa.Engine, database: str) -> int:
    time.sleep(1.5)  # Postgres flushes a backend's statistics about once a second
    with admin.connect() as conn:
        query = sa.text("SELECT xact_commit FROM pg_stat_database WHERE datname = :name")
        return int(conn.execute(query, {"name": database}).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--per-day", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="Keep the databases and DAGSTER_HOME (prints them).")
    parser.add_argument("--profile", type=Path, help="Run the backfill under cProfile, writing its stats here.")
    args = parser.parse_args()

    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    pipeline_db = create_database(admin, "mono_fleet_pipeline")
    dagster_db = create_database(admin, "mono_fleet_dagster")
    pipeline_url = ADMIN_URL.rsplit("/", 1)[0] + f"/{pipeline_db}"
    home = Path(tempfile.mkdtemp(prefix="mono-fleet-home-"))
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")  # the production instance: Postgres storage
    started_sandbox = time.perf_counter()
    sandbox, base_url = start_sandbox(args.accounts, args.days + 1, args.per_day)
    sandbox_seconds = time.perf_counter() - started_sandbox
    try:
        state = httpx.get(f"{base_url}/_sandbox/state", timeout=30).json()
        end = datetime.fromisoformat(state["end_date"]).date() - timedelta(days=1)
        start = end - timedelta(days=args.days - 1)
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_USERNAME": "postgres",
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_DB": dagster_db,
            "MONO_DAGSTER_DB_URL": pipeline_url,
            "MONO_BASE_URL": base_url,
            "MONO_SECRET_KEY": SECRET,
            "MONO_RATE_LIMIT_PER_SECOND": "100000",
            "MONO_RATE_LIMIT_BURST": "100000",
            "MONO_EVENTS_PUBLISHER": "log",
        }
        cli = [sys.executable, "-m", "mono_dagster.cli"]
        subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, text=True, cwd=home)
        if args.profile:
            cli = [sys.executable, "-m", "cProfile", "-o", str(args.profile.resolve()), "-m", "mono_dagster.cli"]
        commits_before = transactions_committed(admin, pipeline_db)
        requests_before = state["requests"]
        started = time.perf_counter()
        backfill = subprocess.run(
            [*cli, "backfill", "--start", start.isoformat(), "--end", end.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            cwd=home,
        )
        wall = time.perf_counter() - started
        if backfill.returncode != 0:
            print(backfill.stdout[-3000:], backfill.stderr[-3000:], sep="\n")
            raise SystemExit(f"backfill exited {backfill.returncode}")
        commits = transactions_committed(admin, pipeline_db) - commits_before
        requests = httpx.get(f"{base_url}/_sandbox/state", timeout=30).json()["requests"] - requests_before
        with sa.create_engine(pipeline_url).connect() as conn:
            rows = conn.execute(sa.text("SELECT count(*) FROM bank_transactions")).scalar_one()
            accounts = conn.execute(sa.text("SELECT count(*) FROM mono_accounts")).scalar_one()
            fetch_seconds = conn.execute(sa.text("SELECT coalesce(sum(elapsed_seconds), 0) FROM mono_fetches")).scalar()
            runs = conn.execute(sa.text("SELECT count(DISTINCT run_id) FROM mono_fetches")).scalar_one()
    finally:
        sandbox.terminate()
        sandbox.wait(10)
        if not args.keep:
            drop_database(admin, pipeline_db)
            drop_database(admin, dagster_db)
            shutil.rmtree(home, ignore_errors=True)
    overhead = wall - float(fetch_seconds)
    print(f"accounts x days x per-day      : {args.accounts} x {args.days} x {args.per_day}")
    print(f"sandbox seeded in              : {sandbox_seconds:.1f} s (not counted)")
    print(f"rows persisted                 : {rows} for {accounts} accounts in {runs} runs (one per shard)")
    print(f"backfill wall time             : {wall:.1f} s = {rows / wall:,.0f} rows/s")
    print(
        f"Mono requests                  : {requests} = {1000 * requests / max(rows, 1):.2f} per 1,000 rows, "
        f"{requests / max(accounts, 1):.2f} per account (listing included)"
    )
    print(f"fetch wait (sum of fetch times): {float(fetch_seconds):.1f} s")
    print(
        f"overhead (wall - fetch wait)   : {overhead:.1f} s = {1000 * overhead / max(accounts, 1):.1f} ms per account"
    )
    print(
        f"pipeline DB transactions       : {commits} = {commits / max(accounts, 1):.3f} per account, "
        f"{commits / max(runs, 1):.1f} per run"
    )
    print(f"load average (1, 5, 15 min)    : {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    if args.keep:
        print(f"kept: DAGSTER_HOME={home} pipeline={pipeline_url} dagster db={dagster_db}")


if __name__ == "__main__":
    main()
