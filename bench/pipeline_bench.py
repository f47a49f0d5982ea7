"""Pipeline benchmark: sandbox → raw → canonical → checks → Postgres, in one process.

Default: 5 accounts x 365 days x 50 transactions a day (91,250 rows) into a fresh Postgres database.
The sandbox runs in its own process. The steps the three assets run (sync overlapped with canonicalise +
Pandera + stage, then persist and reconciliation) are called directly and timed: rows/s end to end, Mono
requests per 1,000 rows, peak RSS and the time per stage; then a rerun of the same window, which
changes nothing.
Last, one ranged Dagster run over `--dagster-days` x every shard shows what Dagster's per-partition
bookkeeping adds (it records planned and materialised events for every partition of the range).

    .venv/bin/python bench/pipeline_bench.py [--accounts 5 --days 365 --per-day 50 --page-size 1000]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from fetch_bench import SECRET, start_sandbox

from mono_dagster.definitions import build_definitions
from mono_dagster.defs.launch import partition_range_tags
from mono_dagster.defs.partitions import SHARD_COUNT
from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.mono import (
    DateWindow,
    MonoClient,
    SecretBackedMonoTokenProvider,
)
from mono_dagster.pipeline.accounts import add_accounts
from mono_dagster.pipeline.persist import persist_run
from mono_dagster.pipeline.reconcile import reconcile_run
from mono_dagster.pipeline.sync import RunIdentity, sync_accounts
from mono_dagster.storage.accounts import list_accounts
from mono_dagster.storage.engine import create_db_engine, dispose_engines
from mono_dagster.storage.migrate import upgrade_database

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def stage_seconds(result: dg.ExecuteInProcessResult) -> dict[str, float]:
    seconds = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        value = materialization.metadata.get("duration_seconds")
        if value is not None:
            seconds[materialization.asset_key.to_user_string()] = value.value
    return seconds


def run_once(job: dg.JobDefinition, instance: dg.DagsterInstance, tags: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=True)
    return time.perf_counter() - started, stage_seconds(result)


cpu_seconds: dict[str, float] = {}  # this process's CPU time per stage (sandbox and Postgres not included)


def timed(stages: dict[str, float], name: str, work):
    started, cpu = time.perf_counter(), time.process_time()
    value = work()
    stages[name] = time.perf_counter() - started
    cpu_seconds[name] = cpu_seconds.get(name, 0.0) + time.process_time() - cpu
    return value


stages_detail: dict[str, float] = {}  # run id -> seconds the step waited for the fetch worker


def run_steps(client: MonoClient, url: str, start, end, run_id: str) -> tuple[dict[str, float], int]:
    """The same steps the three assets run, called directly: what the pipeline itself costs."""
    engine = create_db_engine(url)
    identity = RunIdentity(run_id=run_id, correlation_id=str(uuid.uuid4()), partition_key="bench")
    window = DateWindow(start, end)
    stages: dict[str, float] = {}
    with engine.connect() as conn:
        accounts = list_accounts(conn)
    before = client.stats.requests
    now = datetime.now(UTC)
    summary = timed(
        stages,
        "sync + canonical (overlapped)",
        lambda: sync_accounts(client, engine, accounts, window, identity, now=now),
    )
    requests = client.stats.requests - before
    assert summary.canonical.schema.passed, summary.canonical.schema.to_markdown()
    assert not summary.failed, summary.failed
    stages_detail[run_id] = summary.fetch_wait_seconds
    timed(stages, "persist (one transaction)", lambda: persist_run(engine, identity, now=now))
    reconciliation = timed(stages, "reconciliation check", lambda: reconcile_run(engine, run_id))
    assert reconciliation.balanced, reconciliation
    return stages, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=50)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--dagster-days", type=int, default=7, help="Days of the one run through Dagster.")
    args = parser.parse_args()

    database = f"mono_dagster_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
    sandbox, base_url = start_sandbox(args.accounts, args.days + 1, args.per_day)
    try:
        state = httpx.get(f"{base_url}/_sandbox/state", timeout=5).json()
        account_ids = [account["id"] for account in state["accounts"]]
        end = datetime.fromisoformat(state["end_date"]).date() - timedelta(days=1)
        start = end - timedelta(days=args.days - 1)
        upgrade_database(url)
        client = MonoClient(
            token_provider=SecretBackedMonoTokenProvider(loader=lambda: SECRET, env_var=None),
            base_url=base_url,
            page_size=args.page_size,
            rate_limit_per_second=1000,
            rate_limit_burst=1000,
        )
        add_accounts(client, create_db_engine(url), account_ids, shard_count=SHARD_COUNT)
        first, requests = run_steps(client, url, start, end, "bench-first")
        rerun, _ = run_steps(client, url, start, end, "bench-rerun")
        client.close()
        with create_db_engine(url).connect() as conn:
            rows = conn.execute(sa.text("select count(*) from bank_transactions")).scalar_one()
            changed = conn.execute(
                sa.text("select count(*) from bank_transactions where change_count > 0")
            ).scalar_one()
        dagster_days = min(args.dagster_days, args.days)
        mono = MonoResource(
            secret_key=SECRET,
            base_url=base_url,
            rate_limit_per_second=1000,
            rate_limit_burst=1000,
            page_size=args.page_size,
        )
        job = build_definitions(mono, DatabaseResource(url=url)).resolve_job_def("mono_sync_job")
        tags = partition_range_tags(end - timedelta(days=dagster_days - 1), end, 0, SHARD_COUNT - 1)
        with dg.instance_for_test() as instance:
            dagster_seconds, dagster_stages = run_once(job, instance, tags)
    finally:
        sandbox.terminate()
        sandbox.wait(10)
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    first_total = sum(first.values())
    print(f"accounts x days x per-day    : {len(account_ids)} x {args.days} x {args.per_day}")
    print(f"page size                    : {args.page_size}")
    print(f"rows persisted               : {rows}  (rows changed by the rerun: {changed})")
    print(f"pipeline, first run          : {first_total:.2f} s = {rows / first_total:,.0f} rows/s end to end")
    for stage, seconds in first.items():
        print(f"  {stage:<27}: {seconds:.2f} s")
    print(f"  {'CPU of this process, both runs':<27}: " + ", ".join(f"{k} {v:.2f} s" for k, v in cpu_seconds.items()))
    print(f"  {'of which waiting for Mono':<27}: {stages_detail['bench-first']:.2f} s")
    print(
        f"Mono requests                : {requests} = {1000 * requests / max(rows, 1):.2f} per 1,000 rows "
        f"for {len(account_ids)} accounts"
    )
    rerun_total = sum(rerun.values())
    print(f"pipeline, rerun (no change)  : {rerun_total:.2f} s = {rows / rerun_total:,.0f} rows/s")
    for stage, seconds in rerun.items():
        print(f"  {stage:<27}: {seconds:.2f} s")
    partitions = dagster_days * SHARD_COUNT
    print(
        f"through Dagster, {dagster_days} days x {SHARD_COUNT} shards ({partitions} partitions, one ranged run, "
        f"SQLite test instance): {dagster_seconds:.2f} s"
    )
    for stage, seconds in dagster_stages.items():
        print(f"  {stage:<27}: {seconds:.2f} s (inside the asset)")
    print(f"peak RSS                     : {peak_rss_mb:.0f} MB")
    print(f"load average (1, 5, 15 min)  : {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
