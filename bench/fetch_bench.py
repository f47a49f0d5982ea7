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
from pathlib import Path

import httpx

from mono_dagster.mono import DateWindow, MonoClient, SecretBackedMonoTokenProvider, TokenBucket

SECRET = "test_sk_bench"


# The sandbox in its own process on a free port: `accounts` may exceed what the CLI offers (a fleet).
_SANDBOX_MAIN = """
import sys
from mono_dagster.sandbox import SandboxConfig, SandboxState, run_sandbox
accounts, days, per_day, secret = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
state = SandboxState(SandboxConfig(accounts=accounts, days=days, per_day=per_day, secret_key=secret))
run_sandbox(state, "127.0.0.1", 0, on_started=lambda url: print("SANDBOX " + url, flush=True))
"""


def start_sandbox(accounts: int, days: int, per_day: int) -> tuple[subprocess.Popen[str], str]:
    """Starts the sandbox on a free port; returns the process and its base URL."""
    # Its log goes to a file: a pipe nobody reads fills up and blocks the sandbox mid-response.
    log = tempfile.NamedTemporaryFile(prefix="mono-sandbox-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-c", _SANDBOX_MAIN, str(accounts), str(days), str(per_day), SECRET],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        lines = [line for line in Path(log.name).read_text().splitlines() if line.startswith("SANDBOX ")]
        if lines:
            base_url = lines[0].removeprefix("SANDBOX ").strip()
            try:
                httpx.get(f"{base_url}/_sandbox/state", timeout=5).raise_for_status()
                return process, base_url
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"sandbox did not start; its log: {log.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=50)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()

    sandbox, base_url = start_sandbox(args.accounts, args.days, args.per_day)
    try:
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
