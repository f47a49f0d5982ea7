"""A worker thread that fetches accounts' windows one after another, so the caller parses and stages the
accounts fetched before while Mono answers the next one (the HTTP wait overlaps the CPU work).

The hand-over is bounded by transactions, not accounts: a few large accounts or many small ones hold
about the same memory. A Mono failure is a result (the account failed, the others go on); anything
else the worker raises ends the walk and is raised in the caller's thread, naming account and window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from mono_dagster.mono import DateWindow, MonoClient, MonoError
from mono_dagster.mono.client import FetchResult
from mono_dagster.storage.accounts import AccountRow

# Transactions fetched ahead of the caller: about two large accounts' windows (18k rows each).
DEFAULT_ROWS_AHEAD = 40_000
# How long `close` waits for a fetch in flight (one request can take a read timeout).
_JOIN_SECONDS = 10.0


@dataclass(frozen=True)
class FetchedAccount:
    """One account's fetch: a result, or the Mono error that ended it."""

    account: AccountRow
    started_at: datetime
    seconds: float
    result: FetchResult | None = None
    error: MonoError | None = None

    @property
    def rows(self) -> int:
        return len(self.result.transactions) if self.result is not None else 0


class FetchWorkerError(RuntimeError):
    """The fetch worker failed on something other than Mono (a bug, a broken limiter store)."""

    def __init__(self, account_id: str, window: DateWindow, cause: BaseException) -> None:
        super().__init__(f"fetching account {account_id} for {window} failed: {cause.__class__.__name__}: {cause}")
        self.account_id = account_id
        self.window = window


@dataclass(frozen=True)
class _WorkerFailed:
    account_id: str
    error: BaseException


class AccountFetcher:
    """Fetches the accounts in order on its own thread; `next` hands each over (use it as a context manager)."""

    def __init__(
        self,
        client: MonoClient,
        accounts: Sequence[AccountRow],
        window: DateWindow,
        *,
        clock: Callable[[], datetime],
        rows_ahead: int = DEFAULT_ROWS_AHEAD,
    ) -> None:
        self._client = client
        self._accounts = list(accounts)
        self._window = window
        self._clock = clock
        self._rows_ahead = rows_ahead
        self._ready: deque[FetchedAccount | _WorkerFailed] = deque()
        self._queued_rows = 0
        self._finished = False
        self._stop = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="mono-fetch", daemon=True)

    def __enter__(self) -> AccountFetcher:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stops after the fetch in flight and waits (bounded) for the worker to end."""
        with self._changed:
            self._stop = True
            self._changed.notify_all()
        self._thread.join(_JOIN_SECONDS)

    def next(self, timeout: float | None = None) -> FetchedAccount | None:
        """The next fetched account, in account order; None when every account was handed over, or
        when `timeout` seconds passed first (check `done`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not self._ready:
                if self._finished:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._changed.wait(remaining)
            item = self._ready.popleft()
            if isinstance(item, _WorkerFailed):
                raise FetchWorkerError(item.account_id, self._window, item.error) from item.error
            self._queued_rows -= item.rows
            self._changed.notify_all()
            return item

    @property
    def done(self) -> bool:
        with self._changed:
            return self._finished and not self._ready

    def _run(self) -> None:
        try:
            for account in self._accounts:
                with self._changed:
                    while not self._stop and self._queued_rows >= self._rows_ahead:
                        self._changed.wait()
                    if self._stop:
                        return
                try:
                    fetched = self._fetch(account)
                except BaseException as exc:  # surfaced in the caller's thread by `next`
                    self._hand_over(_WorkerFailed(account.account_id, exc))
                    return
                self._hand_over(fetched)
        finally:
            with self._changed:
                self._finished = True
                self._changed.notify_all()

    def _fetch(self, account: AccountRow) -> FetchedAccount:
        started, started_at = time.perf_counter(), self._clock()
        try:
            result = self._client.fetch_transactions(account.account_id, self._window, tenant=account.tenant)
        except MonoError as exc:
            return FetchedAccount(account, started_at, time.perf_counter() - started, error=exc)
        return FetchedAccount(account, started_at, time.perf_counter() - started, result=result)

    def _hand_over(self, item: FetchedAccount | _WorkerFailed) -> None:
        with self._changed:
            self._ready.append(item)
            if isinstance(item, FetchedAccount):
                self._queued_rows += item.rows
            self._changed.notify_all()
