"""Fetch benchmark: a large window from the sandbox through MonoClient, over real HTTP.

Default: 5 accounts x 365 days x 50 transactions a day (91,250 rows). The sandbox runs in its own
process so it does not share the GIL with the client being measured. Prints rows/s, requests per
1,000 rows and the client's peak memory.

    .venv/bin/python bench/fetch_bench.py [--accounts 5] [--days 365] [--per-day 50] [--page-size 1000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta

import httpx

from mono_dagster.mono import DateWindow, MonoClient, SecretBackedMonoTokenProvider, TokenBucket

SECRET = "test_sk_bench"


def start_sandbox(accounts: int, days: int, per_day: int, port: int) -> subprocess.Popen[str]:
    # Its log goes to a file: a pipe nobody reads fills up and blocks the sandbox mid-response.
    log = tempfile.NamedTemporaryFile(prefix="mono-sandbox-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mono_dagster.cli",
            "sandbox",
            "--port",
            str(port),
            "--accounts",
            str(accounts),
            "--days",
            str(days),
            "--per-day",
            str(per_day),
            "--secret-key",
            SECRET,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base_url}/_sandbox/state", timeout=1).raise_for_status()
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"sandbox did not start; its log: {log.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=50)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()

    sandbox = start_sandbox(args.accounts, args.days, args.per_day, args.port)
    try:
        base_url = f"http://127.0.0.1:{args.port}"
        state = httpx.get(f"{base_url}/_sandbox/state", timeout=5).json()
        account_ids = [account["id"] for account in state["accounts"]]
        end = datetime.fromisoformat(state["end_date"]).date()
        window = DateWindow(end - timedelta(days=args.days - 1), end)
        client = MonoClient(
            token_provider=SecretBackedMonoTokenProvider(loader=lambda: SECRET, env_var=None),
            base_url=base_url,
            rate_limiter=TokenBucket(1000, 1000),
            page_size=args.page_size,
        )
        tracemalloc.start()
        started = time.perf_counter()
        rows = requests = 0
        for account_id in account_ids:
            result = client.fetch_transactions(account_id, window)
            rows += len(result.transactions)
            requests += result.requests
        elapsed = time.perf_counter() - started
        _, peak_traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        client.close()
    finally:
        sandbox.terminate()
        sandbox.wait(10)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"accounts x days x per-day : {len(account_ids)} x {args.days} x {args.per_day}")
    print(f"page size                 : {args.page_size}")
    print(f"rows fetched              : {rows}")
    print(f"elapsed                   : {elapsed:.2f} s")
    print(f"rows/s                    : {rows / elapsed:,.0f}")
    print(f"requests                  : {requests}")
    print(f"requests per 1,000 rows   : {1000 * requests / max(rows, 1):.2f}")
    print(f"peak Python heap (traced) : {peak_traced / 1e6:.1f} MB")
    print(f"peak RSS (process)        : {peak_rss_mb:.1f} MB")


if __name__ == "__main__":
    main()
