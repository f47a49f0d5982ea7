"""Tenant-specific request budgets: a rate and a burst per tenant, shared by every process, waited for.

Configuration (`MONO_TENANT_RATE_LIMITS`, or a file named by `MONO_TENANT_RATE_LIMITS_FILE`) is JSON:
`{"tenant-a": {"rate": 5, "burst": 10}, "*": {"rate": 2, "burst": 4}}`, rate in requests per second.
`"*"` is the budget of every tenant not named; without it, an unnamed tenant gets the process-wide
bucket's rate and burst (`MONO_RATE_LIMIT_PER_SECOND` / `MONO_RATE_LIMIT_BURST`).

Counting is PyrateLimiter's sliding-window log in a shared store (`tenant_stores`): a budget of
`rate` and `burst` becomes "at most `burst` requests in any `burst / rate` seconds" (plus a small
safety margin), which keeps every window of T seconds within `rate * T + burst`, the token bucket's
bound. A tenant over budget waits, up to `MONO_TENANT_RATE_LIMIT_MAX_WAIT_SECONDS`; only then does
`acquire` raise `TenantRateLimitTimeout`, naming the tenant, which fails that account's fetch (the
run goes on). Tenants never wait for each other: each has its own bucket and limiter.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import Counter
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pyrate_limiter import AbstractBucket, Limiter, Rate

from mono_dagster.mono.errors import MonoError
from mono_dagster.mono.operations import SERVICE_ROLE
from mono_dagster.mono.tenant_stores import TenantStore, budget_refusals, tenant_store_for

DEFAULT_TENANT_KEY: Final = "*"
# None: a request over its tenant's budget waits as long as it takes (issue 7: it waits, never fails);
# the run's own timeout bounds it. A bound, when configured, fails that account's fetch instead.
DEFAULT_MAX_WAIT_SECONDS: Final[float | None] = None
# Added to every window: covers the few milliseconds between a request's admission and its sending,
# so the bound holds for the requests Mono sees, not only for the ones the store logged.
SAFETY_MARGIN_MS: Final = 25
# PyrateLimiter sleeps this much past the computed wait before it tries again.
RETRY_BUFFER_MS: Final = 10
TENANT_LABEL_LIMIT: Final = 100  # tenants are tens; past this many, the label is "other"

TENANT_WAITS = Counter(
    "taxpoynt_mono_client_tenant_rate_limit_waits_total",
    "Requests to Mono that waited for their tenant's budget, by tenant.",
    ["service_role", "provider", "tenant"],
)
TENANT_WAIT_SECONDS = Counter(
    "taxpoynt_mono_client_tenant_rate_limit_wait_seconds_total",
    "Seconds requests to Mono spent waiting for their tenant's budget, by tenant.",
    ["service_role", "provider", "tenant"],
)
TENANT_TIMEOUTS = Counter(
    "taxpoynt_mono_client_tenant_rate_limit_timeouts_total",
    "Requests that gave up after waiting MONO_TENANT_RATE_LIMIT_MAX_WAIT_SECONDS for their tenant's budget.",
    ["service_role", "provider", "tenant"],
)


class TenantLimitsError(ValueError):
    """The tenant rate-limit configuration cannot be used; the message says why."""


class TenantRateLimitTimeout(MonoError):
    """A tenant's request waited the whole bound for its budget: the budget is far too small for the load."""

    def __init__(self, tenant: str, budget: TenantBudget, waited_seconds: float) -> None:
        super().__init__(
            f"tenant {tenant!r} waited {waited_seconds:.1f} s for its Mono request budget "
            f"({budget.rate:g}/s, burst {budget.burst}) without getting a slot; raise the tenant's budget "
            "in MONO_TENANT_RATE_LIMITS or MONO_TENANT_RATE_LIMIT_MAX_WAIT_SECONDS"
        )
        self.tenant = tenant


class _BudgetModel(BaseModel, frozen=True):
    rate: float = Field(gt=0, le=10_000)
    burst: int = Field(ge=1, le=100_000)


_DOCUMENT = TypeAdapter(dict[str, _BudgetModel])


@dataclass(frozen=True)
class TenantBudget:
    rate: float  # requests per second, sustained
    burst: int  # requests that may go at once

    def rates(self) -> list[Rate]:
        """PyrateLimiter's form: `burst` requests per `burst / rate` seconds, plus the safety margin."""
        return [Rate(self.burst, math.ceil(1000 * self.burst / self.rate) + SAFETY_MARGIN_MS)]


@dataclass(frozen=True)
class TenantLimits:
    default: TenantBudget
    tenants: dict[str, TenantBudget] = field(default_factory=dict)

    def budget_for(self, tenant: str) -> TenantBudget:
        return self.tenants.get(tenant, self.default)

    @classmethod
    def parse(cls, text: str, *, fallback: TenantBudget) -> TenantLimits:
        """Reads the JSON document; `fallback` is the default budget when the document has no `"*"`."""
        try:
            document = _DOCUMENT.validate_python(json.loads(text))
        except json.JSONDecodeError as exc:
            raise TenantLimitsError(f"tenant rate limits are not JSON: {exc.msg} at position {exc.pos}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise TenantLimitsError(
                f"tenant rate limits: {where or 'document'}: {first['msg']} "
                '(expected {"tenant": {"rate": <requests/s>, "burst": <requests>}, ...})'
            ) from None
        budgets = {name: TenantBudget(model.rate, model.burst) for name, model in document.items()}
        default = budgets.pop(DEFAULT_TENANT_KEY, fallback)
        return cls(default=default, tenants=budgets)

    def cache_key(self) -> str:
        named = {name: (budget.rate, budget.burst) for name, budget in sorted(self.tenants.items())}
        return json.dumps([self.default.rate, self.default.burst, named])


class _TenantLabels:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, tenant: str) -> str:
        with self._lock:
            if tenant in self._seen or len(self._seen) < self._limit:
                self._seen.add(tenant)
                return tenant
        return "other"


tenant_label = _TenantLabels(TENANT_LABEL_LIMIT)


class TenantLimiter:
    """One PyrateLimiter `Limiter` per tenant over the store's bucket; thread-safe."""

    def __init__(
        self,
        limits: TenantLimits,
        store: TenantStore,
        *,
        max_wait_seconds: float | None = DEFAULT_MAX_WAIT_SECONDS,
    ) -> None:
        if max_wait_seconds is not None and max_wait_seconds <= 0:
            raise TenantLimitsError(f"the maximum wait must be positive (or None: no bound), not {max_wait_seconds}")
        self.limits = limits
        self.store = store
        self.max_wait_seconds = max_wait_seconds
        self._limiters: dict[str, tuple[Limiter, AbstractBucket]] = {}
        self._lock = threading.Lock()

    def _limiter(self, tenant: str) -> tuple[Limiter, AbstractBucket]:
        with self._lock:
            entry = self._limiters.get(tenant)
            if entry is None:
                bucket = self.store.bucket(tenant, self.limits.budget_for(tenant).rates())
                entry = (Limiter(bucket, buffer_ms=RETRY_BUFFER_MS), bucket)
                self._limiters[tenant] = entry
            return entry

    def acquire(self, tenant: str) -> float:
        """Takes one request from the tenant's budget, waiting for it; returns the seconds waited for budget."""
        limiter, bucket = self._limiter(tenant)
        refusals = budget_refusals(bucket)
        started = time.monotonic()
        timeout = -1 if self.max_wait_seconds is None else self.max_wait_seconds  # -1: PyrateLimiter waits on
        admitted = limiter.try_acquire(tenant, blocking=True, timeout=timeout)
        waited = time.monotonic() - started
        label = tenant_label(tenant)
        if not admitted:
            TENANT_WAITS.labels(SERVICE_ROLE, "mono", label).inc()
            TENANT_WAIT_SECONDS.labels(SERVICE_ROLE, "mono", label).inc(waited)
            TENANT_TIMEOUTS.labels(SERVICE_ROLE, "mono", label).inc()
            raise TenantRateLimitTimeout(tenant, self.limits.budget_for(tenant), waited)
        if budget_refusals(bucket) == refusals:
            return 0.0  # admitted without waiting for budget (a moment on a shared lock is not a wait)
        TENANT_WAITS.labels(SERVICE_ROLE, "mono", label).inc()
        TENANT_WAIT_SECONDS.labels(SERVICE_ROLE, "mono", label).inc(waited)
        return waited

    def close(self) -> None:
        with self._lock:
            limiters = list(self._limiters.values())
            self._limiters.clear()
        for limiter, _ in limiters:
            limiter.close()
        self.store.close()

    def __enter__(self) -> TenantLimiter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_shared: dict[tuple[str, str, float], TenantLimiter] = {}
_shared_lock = threading.Lock()


def shared_tenant_limiter(
    limits: TenantLimits, store_url: str, *, max_wait_seconds: float | None = DEFAULT_MAX_WAIT_SECONDS
) -> TenantLimiter:
    """The process's limiter for this configuration and store: every client in the process shares it."""
    key = (limits.cache_key(), store_url, max_wait_seconds)
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None:
            limiter = TenantLimiter(limits, tenant_store_for(store_url), max_wait_seconds=max_wait_seconds)
            _shared[key] = limiter
        return limiter


def close_shared_tenant_limiters() -> None:
    """Closes the process's shared limiters (tests, and processes about to exit or fork)."""
    with _shared_lock:
        limiters = list(_shared.values())
        _shared.clear()
    for limiter in limiters:
        limiter.close()
