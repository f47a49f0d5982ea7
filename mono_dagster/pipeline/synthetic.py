"""The RFC's synthetic fetch: fetch a designated account's recent window, measure it, page after two failures.

One check: fetch the window through the real client (nothing is stored but the check's own row in
`synthetic_checks`: no raw pages, no transactions, no events), record latency and outcome in the RFC's
metrics (`taxpoynt_mono_pipeline_stage_seconds{stage="sync"}`, `taxpoynt_mono_pipeline_errors_total`)
and in `synthetic_checks`, then:

- the second failure in a row pages on-call (`route="oncall"`, critical), with a de-duplication key
  naming the streak (`mono-synthetic:<account>:<time of its first failure>`), so later failures of the
  same streak send nothing new (the notifier de-duplicates; a page that could not be delivered is
  tried again by the next failure);
- the first success after a failure resolves the streak's key, so the next streak pages again (a
  resolve that could not be delivered keeps the key on the success row and is tried by the next success).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from prometheus_client import Counter, Gauge
from sqlalchemy import Engine

from mono_dagster.mono import DateWindow, MonoClient, MonoError
from mono_dagster.notify.alert import Alert
from mono_dagster.observability import metrics
from mono_dagster.observability.scrub import scrub_text
from mono_dagster.storage.synthetic_checks import (
    SyntheticCheckRecord,
    SyntheticCheckRow,
    latest_synthetic_check,
    record_synthetic_check,
)

log = logging.getLogger(__name__)

PAGE_AFTER_FAILURES: Final = 2
STREAK_KEY_PREFIX: Final = "mono-synthetic"

SYNTHETIC_CHECKS = Counter(
    "taxpoynt_mono_synthetic_checks_total",
    "Synthetic fetches of the designated account, by outcome (success, failure).",
    ["provider", "account_id", "outcome"],
)
SYNTHETIC_LAST_SUCCESS = Gauge(
    "taxpoynt_mono_synthetic_last_success_timestamp_seconds",
    "Unix time of the last successful synthetic fetch.",
    ["provider", "account_id"],
)


class Notifier(Protocol):
    """What the check needs of `notify.NotifierResource`."""

    def send(self, alert: Alert) -> bool: ...

    def resolve(self, dedup_key: str) -> None: ...


@dataclass(frozen=True)
class Probe:
    """What one synthetic fetch saw."""

    ok: bool
    latency_seconds: float
    transaction_count: int | None = None
    requests: int = 0
    error_class: str | None = None
    status_code: int | None = None
    error: str | None = None  # scrubbed


def synthetic_window(today: datetime | None = None, days: int = 1) -> DateWindow:
    """The last `days` UTC days up to and including today."""
    end = (today or datetime.now(UTC)).astimezone(UTC).date()
    return DateWindow(end - timedelta(days=days), end)


def probe(client: MonoClient, account_id: str, window: DateWindow) -> Probe:
    """Fetches the window (nothing stored) and records latency and outcome in the RFC's metrics."""
    started = time.perf_counter()
    try:
        result = client.fetch_transactions(account_id, window)
    except Exception as exc:  # a monitor: whatever breaks the fetch path is an outcome to report
        seconds = time.perf_counter() - started
        metrics.observe_stage(account_id, "sync", seconds, ok=False)
        metrics.observe_error(account_id, "sync", exc.__class__.__name__)
        SYNTHETIC_CHECKS.labels(metrics.PROVIDER, metrics.account_label(account_id), "failure").inc()
        status = exc.status_code if isinstance(exc, MonoError) else None
        return Probe(False, seconds, error_class=exc.__class__.__name__, status_code=status, error=scrub_text(str(exc)))
    seconds = time.perf_counter() - started
    metrics.observe_stage(account_id, "sync", seconds, ok=True)
    label = metrics.account_label(account_id)
    SYNTHETIC_CHECKS.labels(metrics.PROVIDER, label, "success").inc()
    SYNTHETIC_LAST_SUCCESS.labels(metrics.PROVIDER, label).set(time.time())
    return Probe(True, seconds, transaction_count=len(result.transactions), requests=result.requests)


def streak_key(account_id: str, first_failure_at: datetime) -> str:
    return f"{STREAK_KEY_PREFIX}:{account_id}:{first_failure_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}"


def next_streak(previous: SyntheticCheckRow | None, ok: bool, account_id: str, now: datetime) -> tuple[int, str | None]:
    """(consecutive failures, streak key) after this outcome: a failure extends or starts a streak.

    A success row may carry the key of a streak it could not resolve; a failure after it starts a new one.
    """
    if ok:
        return 0, None
    if previous is not None and not previous.ok and previous.streak_key:
        return previous.consecutive_failures + 1, previous.streak_key
    return 1, streak_key(account_id, now)


def page_alert(account_id: str, window: DateWindow, result: Probe, failures: int, key: str) -> Alert:
    cause = f"{result.error_class}" + (f" HTTP {result.status_code}" if result.status_code else "")
    return Alert(
        dedup_key=key,
        severity="critical",
        route="oncall",
        summary=f"Synthetic Mono fetch failed {failures} times in a row for account {account_id} ({cause})",
        details={
            "account_id": account_id,
            "consecutive_failures": failures,
            "window": str(window),
            "error_class": result.error_class,
            "status_code": result.status_code,
            "error": result.error,
            "latency_seconds": round(result.latency_seconds, 3),
            "runbook": "docs/operations.md#synthetic-monitoring",
            "component": "mono_synthetic_check",
            "group": "mono",
            "class": "synthetic_fetch",
        },
    )


def run_synthetic_check(
    client: MonoClient,
    engine: Engine,
    notifier: Notifier,
    account_id: str,
    window: DateWindow,
    *,
    run_id: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SyntheticCheckRow:
    """One synthetic check: probe, page or resolve as the streak says, record the row."""
    result = probe(client, account_id, window)
    now = clock()
    with engine.connect() as conn:
        previous = latest_synthetic_check(conn, account_id)
    failures, key = next_streak(previous, result.ok, account_id, now)
    paged, alert_error = False, None
    try:
        if key is not None and failures >= PAGE_AFTER_FAILURES:
            paged = notifier.send(page_alert(account_id, window, result, failures, key))
        elif result.ok and previous is not None and previous.streak_key:
            notifier.resolve(previous.streak_key)
    except Exception as exc:  # the check is recorded whatever the notifier does; the next check tries again
        alert_error = scrub_text(f"{exc.__class__.__name__}: {exc}")
        log.error("synthetic check of account %s could not notify on-call: %s", account_id, alert_error)
        if result.ok and previous is not None:
            key = previous.streak_key  # kept on the success row, so the next success resolves it again
    record = SyntheticCheckRecord(
        account_id=account_id,
        checked_at=now,
        run_id=run_id,
        window_start=window.start,
        window_end=window.end,
        ok=result.ok,
        latency_seconds=result.latency_seconds,
        transaction_count=result.transaction_count,
        requests=result.requests,
        error_class=result.error_class,
        status_code=result.status_code,
        error=result.error,
        consecutive_failures=failures,
        streak_key=key,
        paged=paged,
        alert_error=alert_error,
    )
    with engine.begin() as conn:
        row = record_synthetic_check(conn, record)
    if result.ok:
        log.info("synthetic fetch of account %s ok in %.3f s", account_id, result.latency_seconds)
    else:
        log.warning(
            "synthetic fetch of account %s failed (%d in a row%s): %s",
            account_id,
            failures,
            ", paged on-call" if paged else "",
            result.error,
        )
    return row
