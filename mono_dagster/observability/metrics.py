"""The RFC's pipeline metrics, with exactly its names, labelled `provider="mono"` and `account_id`.

Cardinality budget: every per-account series costs (stages x outcomes x buckets) for the latency
histogram: 3 stages x 2 outcomes x 14 buckets (+ sum and count) = 96 series per account, plus ~6 for
the counters and gauges: about 100 series per account. At the default limit of 500 labelled accounts
that is ~50,000 series, a comfortable single-Prometheus load. Above `MONO_METRICS_ACCOUNT_LABEL_LIMIT`
accounts seen by the process, `account_id` is replaced by a stable bucket (`bucket-00`..`bucket-63`,
sha256 of the id): the alert rules still fire per label value, and on-call finds the accounts of a
bucket with `mono-dagster accounts list` and the `mono.fetch.*` events, which always carry the real id.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Final

from prometheus_client import Counter, Gauge, Histogram

PROVIDER: Final = "mono"
ACCOUNT_LABEL_LIMIT_ENV: Final = "MONO_METRICS_ACCOUNT_LABEL_LIMIT"
DEFAULT_ACCOUNT_LABEL_LIMIT: Final = 500
ACCOUNT_BUCKETS: Final = 64
STAGES: Final = ("sync", "transform", "persist")
# Transform and persist run once per batch of accounts, not per account: their series carry this value.
ALL_ACCOUNTS: Final = "all"

# Fine around the RFC's 2 s SLA, then out to a slow whole-window fetch.
STAGE_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0, 60.0)

STAGE_SECONDS = Histogram(
    "taxpoynt_mono_pipeline_stage_seconds",
    "Seconds a pipeline stage (sync, transform, persist) took, by outcome (success, failure).",
    ["provider", "account_id", "stage", "outcome"],
    buckets=STAGE_BUCKETS,
)
ERRORS = Counter(
    "taxpoynt_mono_pipeline_errors_total",
    "Pipeline failures by stage and exception class.",
    ["provider", "account_id", "stage", "exception_class"],
)
ZERO_TRANSACTIONS = Counter(
    "taxpoynt_mono_pipeline_zero_transactions_total",
    "Fetches of an account window that returned no transactions.",
    ["provider", "account_id"],
)
ROWS_INGESTED = Counter(
    "taxpoynt_mono_pipeline_rows_ingested_total",
    "Transactions inserted or updated in bank_transactions.",
    ["provider", "account_id"],
)
ROWS_QUARANTINED = Counter(
    "taxpoynt_mono_pipeline_rows_quarantined_total",
    "Transactions quarantined by the canonical transform's row rules.",
    ["provider", "account_id"],
)
FAILURE_STREAK = Gauge(
    "taxpoynt_mono_pipeline_failure_streak",
    "Consecutive failed syncs of an account (the registry's failure streak).",
    ["provider", "account_id"],
)
LAST_SUCCESS = Gauge(
    "taxpoynt_mono_pipeline_last_success_timestamp_seconds",
    "Unix time of the account's last successful sync.",
    ["provider", "account_id"],
)


class AccountLabeler:
    """Maps account ids to label values, switching to buckets once more than `limit` accounts are seen."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, account_id: str) -> str:
        if account_id == ALL_ACCOUNTS:
            return account_id
        with self._lock:
            if account_id in self._seen or len(self._seen) < self.limit:
                self._seen.add(account_id)
                return account_id
        digest = hashlib.sha256(account_id.encode()).digest()
        return f"bucket-{int.from_bytes(digest[:4], 'big') % ACCOUNT_BUCKETS:02d}"


def _limit_from_env() -> int:
    raw = os.environ.get(ACCOUNT_LABEL_LIMIT_ENV, "")
    return int(raw) if raw.isdigit() else DEFAULT_ACCOUNT_LABEL_LIMIT


account_label = AccountLabeler(_limit_from_env())


def observe_stage(account_id: str, stage: str, seconds: float, *, ok: bool) -> None:
    STAGE_SECONDS.labels(PROVIDER, account_label(account_id), stage, "success" if ok else "failure").observe(seconds)


def observe_error(account_id: str, stage: str, exception_class: str) -> None:
    ERRORS.labels(PROVIDER, account_label(account_id), stage, exception_class).inc()


def observe_zero_transactions(account_id: str) -> None:
    ZERO_TRANSACTIONS.labels(PROVIDER, account_label(account_id)).inc()


def observe_rows(account_id: str, *, ingested: int = 0, quarantined: int = 0) -> None:
    label = account_label(account_id)
    if ingested:
        ROWS_INGESTED.labels(PROVIDER, label).inc(ingested)
    if quarantined:
        ROWS_QUARANTINED.labels(PROVIDER, label).inc(quarantined)


def observe_failure_streak(account_id: str, streak: int) -> None:
    FAILURE_STREAK.labels(PROVIDER, account_label(account_id)).set(streak)


def observe_success(account_id: str, at_unix_seconds: float) -> None:
    label = account_label(account_id)
    FAILURE_STREAK.labels(PROVIDER, label).set(0)
    LAST_SUCCESS.labels(PROVIDER, label).set(at_unix_seconds)
