"""The RFC's pipeline metrics, with exactly its names, labelled `provider="mono"` and `account_id`.

The process records every series by the real account id; the `account_id` label value the Pushgateway
and Prometheus see is decided when a run pushes (`observability/push.py`, policy from
`AccountLabelPolicy.for_fleet`): by id while the registry (`mono_accounts`, accounts not unlinked) holds
at most `MONO_METRICS_ACCOUNT_LABEL_LIMIT` accounts, otherwise EVERY account by its bucket
(`bucket-00`..`bucket-63`, sha256 of the id). It is a fleet-size switch, not a first-come quota, so every
process (each Dagster run is one) that reads the same registry makes the same decision for every account.
Above the limit the bucket's failure streak is the MAX streak and its last success the MIN last success
of the bucket's active accounts, read from the registry at push time (`bucket_gauge_values`), so a bucket
alerts whenever one of its accounts would. The budget and its arithmetic: monitoring/README.md
("Cardinality budget").
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from prometheus_client import Counter, Gauge, Histogram

PROVIDER: Final = "mono"
ACCOUNT_LABEL_LIMIT_ENV: Final = "MONO_METRICS_ACCOUNT_LABEL_LIMIT"
DEFAULT_ACCOUNT_LABEL_LIMIT: Final = 500
ACCOUNT_BUCKETS: Final = 64
BUCKET_PREFIX: Final = "bucket-"
STAGES: Final = ("sync", "transform", "persist")
# Transform and persist run once per batch of accounts, not per account: their series carry this value.
ALL_ACCOUNTS: Final = "all"

FAILURE_STREAK_NAME: Final = "taxpoynt_mono_pipeline_failure_streak"
LAST_SUCCESS_NAME: Final = "taxpoynt_mono_pipeline_last_success_timestamp_seconds"

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
    FAILURE_STREAK_NAME,
    "Consecutive failed syncs of an account (the registry's failure streak; a bucket: its accounts' max).",
    ["provider", "account_id"],
)
LAST_SUCCESS = Gauge(
    LAST_SUCCESS_NAME,
    "Unix time of the account's last successful sync (a bucket: the oldest of its active accounts').",
    ["provider", "account_id"],
)


def bucket_of(account_id: str, buckets: int = ACCOUNT_BUCKETS) -> str:
    """The account's stable bucket label: sha256 of the id (never Python's per-process salted `hash()`)."""
    digest = hashlib.sha256(account_id.encode("utf-8")).digest()
    return f"{BUCKET_PREFIX}{int.from_bytes(digest[:4], 'big') % buckets:02d}"


def is_bucket_label(label: str) -> bool:
    return label.startswith(BUCKET_PREFIX) and label[len(BUCKET_PREFIX) :].isdigit()


@dataclass(frozen=True)
class AccountLabelPolicy:
    """How `account_id` is exported: by id, or (`bucketed`) every account by its bucket."""

    bucketed: bool
    buckets: int = ACCOUNT_BUCKETS

    @classmethod
    def for_fleet(cls, fleet_size: int, limit: int | None = None) -> AccountLabelPolicy:
        """Bucketed iff the registry holds more than `limit` accounts (default: the env setting)."""
        return cls(bucketed=fleet_size > (label_limit_from_env() if limit is None else limit))

    def label(self, account_id: str) -> str:
        if account_id == ALL_ACCOUNTS or not account_id or is_bucket_label(account_id):
            return account_id
        return bucket_of(account_id, self.buckets) if self.bucketed else account_id

    def is_stale(self, label: str) -> bool:
        """A label value of the other mode (left behind when the fleet crossed the limit)."""
        if label in ("", ALL_ACCOUNTS):
            return False
        return is_bucket_label(label) != self.bucketed


def label_limit_from_env() -> int:
    raw = os.environ.get(ACCOUNT_LABEL_LIMIT_ENV, "").strip()
    return int(raw) if raw.isdigit() else DEFAULT_ACCOUNT_LABEL_LIMIT


def fleet_size(conn: sa.Connection) -> int:
    """Accounts the label decision counts: every registered account that is not unlinked (one COUNT)."""
    from mono_dagster.storage.tables import mono_accounts

    query = sa.select(sa.func.count()).select_from(mono_accounts).where(mono_accounts.c.status != "unlinked")
    return int(conn.execute(query).scalar_one())


def bucket_gauge_values(
    conn: sa.Connection, policy: AccountLabelPolicy, labels: Collection[str]
) -> dict[str, dict[str, float]]:
    """Per gauge family, the value of each bucket in `labels` over ALL its active accounts (one query).

    Failure streak: the max of the bucket's accounts; last success: the min (oldest) of those that ever
    succeeded. A run only sees its own accounts, so these come from the registry, not the process.
    """
    from mono_dagster.storage.tables import mono_accounts

    wanted = set(labels)
    streaks: dict[str, float] = {}
    oldest: dict[str, float] = {}
    query = sa.select(
        mono_accounts.c.account_id, mono_accounts.c.failure_streak, mono_accounts.c.last_success_at
    ).where(mono_accounts.c.status == "active")
    for account_id, streak, last_success_at in conn.execute(query):
        label = policy.label(account_id)
        if label not in wanted:
            continue
        streaks[label] = max(streaks.get(label, 0.0), float(streak or 0))
        if last_success_at is not None:
            oldest[label] = min(oldest.get(label, math.inf), last_success_at.timestamp())
    return {FAILURE_STREAK_NAME: streaks, LAST_SUCCESS_NAME: oldest}


def account_label(account_id: str) -> str:
    """The label value recorded in this process: the id itself (the export decides; see the docstring)."""
    return account_id


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
