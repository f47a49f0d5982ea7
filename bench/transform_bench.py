"""Throughput of the transform and of the Pandera validation on one realistic batch.

Builds 91,250 synthetic raw rows (250 accounts x 365 days, one transaction a day each; the size of a
one-year backfill for a small customer base) with narrations that are mostly unique, as real ones are
(names, references), and prints rows per second. Not a test: nothing is asserted.

Run: .venv/bin/python bench/transform_bench.py
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import pandas as pd

from mono_dagster.transform import build_raw_frame, to_canonical, validate_canonical

ROWS = 91_250
ACCOUNTS = 250
REPEATS = 5

NARRATIONS = (
    "NIP/TRF FROM {name}/GTB/{ref}",
    "POS PURCHASE @ SHOPRITE LEKKI {ref}",
    "ATM WDL {ref} ACCESS BANK IKEJA",
    "USSD TRANSFER TO 0123***789 {name}",
    "SMS ALERT CHARGES",
    "WEB PYMT JUMIA NG {ref}",
    "MTN AIRTIME VTU 0803{ref}",
    "TRF TO {name} SCHOOL FEES",
    "STAMP DUTY",
    "SALARY {name} {ref}",
)
NAMES = ("ADEBAYO OLUWASEUN", "CHIOMA OKAFOR", "IBRAHIM MUSA", "NGOZI EZE", "TUNDE BAKARE", "AISHA BELLO")
CATEGORIES = ("bank_charges", "transfer", "online_transactions", "E-CHANNELS", "unknown", None)


def synthetic_records(rows: int = ROWS, seed: int = 7) -> list[tuple[str, int, dict]]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    records = []
    for i in range(rows):
        account = i % ACCOUNTS
        when = start + timedelta(days=i // ACCOUNTS, seconds=rng.randrange(86_400))
        narration = rng.choice(NARRATIONS).format(name=rng.choice(NAMES), ref=f"{rng.randrange(10**7):07d}")
        obj = {
            "id": f"{i:024x}",
            "type": rng.choice(("debit", "credit")),
            "amount": rng.randrange(100, 50_000_000),
            "narration": narration,
            "date": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "balance": rng.randrange(0, 10**10),
            "category": rng.choice(CATEGORIES),
        }
        if i % 3:  # a third of the objects in the v2 shape (no currency), the rest v1
            obj["currency"] = "NGN"
        records.append((f"acct_{account:04d}", i // 100, obj))
    return records


def accounts_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": [f"acct_{a:04d}" for a in range(ACCOUNTS)],
            "account_number": [f"{3_000_000_000 + a:010d}" for a in range(ACCOUNTS)],
            "institution": ["GTBank"] * ACCOUNTS,
            "currency": ["NGN"] * ACCOUNTS,
        }
    )


def best_of(fn, repeats: int = REPEATS) -> float:
    timings = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - began)
    return min(timings), statistics.median(timings)


def main() -> None:
    records = synthetic_records()
    accounts = accounts_frame()
    build_best, _ = best_of(lambda: build_raw_frame(records))
    raw = build_raw_frame(records)
    to_canonical(raw, accounts)  # warm-up: imports, regex and numpy caches
    transform_best, transform_median = best_of(lambda: to_canonical(raw, accounts))
    batch = to_canonical(raw, accounts)
    report = validate_canonical(batch.valid)
    validate_best, validate_median = best_of(lambda: validate_canonical(batch.valid))
    print(f"rows: {len(raw):,} (valid {len(batch.valid):,}, quarantined {len(batch.quarantined):,})")
    print(f"build_raw_frame:    {len(raw) / build_best:>12,.0f} rows/s  (best {build_best * 1000:.0f} ms)")
    print(
        f"to_canonical:       {len(raw) / transform_best:>12,.0f} rows/s  "
        f"(best {transform_best * 1000:.0f} ms, median {transform_median * 1000:.0f} ms)"
    )
    print(
        f"validate_canonical: {len(raw) / validate_best:>12,.0f} rows/s  "
        f"(best {validate_best * 1000:.0f} ms, median {validate_median * 1000:.0f} ms; "
        f"passed={report.passed})"
    )


if __name__ == "__main__":
    main()
