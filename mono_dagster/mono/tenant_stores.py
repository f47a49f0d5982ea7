"""Where tenant budgets are counted: PyrateLimiter buckets in a store every process can see.

- Postgres (`postgresql://...`, production): one `PostgresBucket` table per tenant
  (`ratelimit___mono_tenant_<slug>_<hash>`, created by the library on first use), timed by the
  database's clock, so every process and machine using the database shares the budget.
- SQLite (`sqlite:///path`, the embedded default): one `SQLiteBucket` file per tenant in a folder
  beside the database (`<db>.tenant-limits/`), under a file lock, so processes of one machine share it.
- `memory://`: one process only (tests, one-off commands).

The buckets here add two things to the library's: an item's timestamp is refreshed from the bucket's
clock before every put, so a request that waited long is logged at the time it was admitted (not at
the estimate PyrateLimiter carries forward while it sleeps, which would let later requests through
early); and each thread's count of puts refused for want of budget (not for lock contention) is kept,
which is what the "waits" metric counts.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pyrate_limiter import AbstractBucket, InMemoryBucket, PostgresBucket, Rate, RateItem, SQLiteBucket
from sqlalchemy.engine import make_url

TABLE_PREFIX = "mono_tenant_"
_SLUG = re.compile(r"[^a-z0-9]+")


def table_for(tenant: str) -> str:
    """A table name that fits Postgres' 63 characters with the library's prefixes, stable per tenant."""
    slug = _SLUG.sub("_", tenant.lower()).strip("_")[:24] or "tenant"
    digest = hashlib.sha256(tenant.encode("utf-8")).hexdigest()[:8]
    return f"{TABLE_PREFIX}{slug}_{digest}"


class TenantStore(Protocol):
    """Builds the shared bucket of one tenant; `close` releases what the store holds."""

    description: str

    def bucket(self, tenant: str, rates: list[Rate]) -> AbstractBucket: ...

    def close(self) -> None: ...


class _TenantBucket:
    """Mixed into a PyrateLimiter bucket (before it): admission-time stamps and budget refusals per thread."""

    _last_wait: Any  # the library bucket's: set by a refused put that knows its wait

    def _admit(self, item: RateItem, put: Callable[[RateItem], Any]) -> bool:
        item.timestamp = int(self.now())  # type: ignore[attr-defined]  # the library bucket's clock
        admitted = bool(put(item))
        # A refusal for budget carries the wait until a slot frees; a contended table lock does not.
        if not admitted and self._last_wait is not None:
            local = self.__dict__.setdefault("_refusals", threading.local())
            local.count = getattr(local, "count", 0) + 1
        return admitted

    def waiting(self, item: RateItem) -> int:
        # PyrateLimiter reads -1 as "this weight can never fit" and gives up; a weight of 1 always fits a
        # budget, and after a contended lock the wait is estimated from a stale entry and can come out -1.
        return max(0, int(super().waiting(item)))  # type: ignore[misc]


def budget_refusals(bucket: AbstractBucket) -> int:
    """How many of this thread's puts the bucket refused because the budget was spent."""
    local = bucket.__dict__.get("_refusals")
    return int(getattr(local, "count", 0)) if local is not None else 0


class _PostgresTenantBucket(_TenantBucket, PostgresBucket):
    def put(self, item: RateItem) -> bool:
        return self._admit(item, super().put)


class _FileLockForLimiter:
    """`filelock.FileLock` as PyrateLimiter's `Limiter` calls its lock (`acquire(False)` means "don't block").

    PyrateLimiter passes `blocking` positionally, which filelock 4 reads as a timeout and rejects.
    """

    def __init__(self, lock: Any) -> None:
        self._lock = lock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=None if timeout == -1 else timeout, blocking=blocking)
        except Timeout:
            return False
        return True

    def release(self) -> None:
        self._lock.release()


class _SQLiteTenantBucket(_TenantBucket, SQLiteBucket):
    def put(self, item: RateItem) -> bool:
        return self._admit(item, super().put)

    def limiter_lock(self) -> object | None:
        lock = super().limiter_lock()
        return None if lock is None else _FileLockForLimiter(lock)


class _MemoryTenantBucket(_TenantBucket, InMemoryBucket):
    def put(self, item: RateItem) -> bool:
        return self._admit(item, super().put)


class PostgresTenantStore:
    """Buckets in the pipeline's Postgres database, through one small psycopg pool per process."""

    def __init__(self, url: str, *, max_connections: int = 4) -> None:
        parsed = make_url(url)
        self.description = f"postgres {parsed.host or 'localhost'}/{parsed.database}"
        self._conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self._max_connections = max_connections
        self._pool: Any = None  # opened by the first bucket, so a client that never needs one costs nothing
        self._lock = threading.Lock()

    def bucket(self, tenant: str, rates: list[Rate]) -> AbstractBucket:
        from psycopg_pool import ConnectionPool

        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(self._conninfo, min_size=1, max_size=self._max_connections, open=True)
        return _PostgresTenantBucket(self._pool, table_for(tenant), rates)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None and not self._pool.closed:
                self._pool.close()


class SQLiteTenantStore:
    """A SQLite file per tenant under a file lock: shared by the processes of one machine."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"sqlite {folder.name}/"

    def bucket(self, tenant: str, rates: list[Rate]) -> AbstractBucket:
        self.folder.mkdir(parents=True, exist_ok=True)
        table = table_for(tenant)
        return _SQLiteTenantBucket.init_from_file(
            rates, table=table, db_path=str(self.folder / f"{table}.sqlite"), use_file_lock=True
        )

    def close(self) -> None:
        return None


class MemoryTenantStore:
    """Buckets in this process only."""

    description = "memory (this process only)"

    def bucket(self, tenant: str, rates: list[Rate]) -> AbstractBucket:
        return _MemoryTenantBucket(rates)

    def close(self) -> None:
        return None


def tenant_store_for(url: str) -> TenantStore:
    """The store for a database URL: Postgres, a SQLite folder beside the database, or `memory://`."""
    if url.startswith("memory://"):
        return MemoryTenantStore()
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return PostgresTenantStore(url)
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return MemoryTenantStore()
        database = Path(parsed.database)
        return SQLiteTenantStore(database.with_name(database.name + ".tenant-limits"))
    raise ValueError(f"no tenant rate-limit store for {backend!r} URLs (use postgresql, sqlite or memory://)")
