"""`MonoClient`: talks to Mono politely and correctly.

Pooled httpx connections with explicit timeouts; a process-wide token bucket; retries with full
jitter that honour Retry-After on 429, 5xx, timeouts, connection errors and unparseable bodies; one
key refresh on a 401; no retry on other 4xx; paging that never trusts `next` (see `pagination`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay

from mono_dagster.mono import metrics, operations
from mono_dagster.mono.account_ids import validate_account_id
from mono_dagster.mono.auth import SecretBackedMonoTokenProvider
from mono_dagster.mono.errors import (
    MonoAuthenticationError,
    MonoConfigurationError,
    MonoNotFoundError,
    MonoRequestError,
    MonoResponseError,
    MonoUnavailableError,
)
from mono_dagster.mono.pagination import walk_window
from mono_dagster.mono.rate_limit import TokenBucket, shared_token_bucket
from mono_dagster.mono.responses import (
    MonoPage,
    UnknownShape,
    UnparseableBody,
    decode_json,
    mono_message,
    parse_transactions_page,
)
from mono_dagster.mono.retry import BackoffWait, RetrySettings, TransientMonoFailure, parse_retry_after
from mono_dagster.mono.tenant_limits import TenantLimiter
from mono_dagster.mono.window import DateWindow

__all__ = ["ClientStats", "FetchResult", "MonoClient", "RetrySettings", "Timeouts"]

DEFAULT_BASE_URL = "https://api.withmono.com"
USER_AGENT = "mono-dagster/0.1"
T = TypeVar("T")


@dataclass(frozen=True)
class Timeouts:
    connect_seconds: float = 5.0
    read_seconds: float = 60.0
    write_seconds: float = 10.0
    pool_seconds: float = 10.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_seconds,
            read=self.read_seconds,
            write=self.write_seconds,
            pool=self.pool_seconds,
        )


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    rate_limit_wait_seconds: float = 0.0

    def copy(self) -> ClientStats:
        return replace(self)


@dataclass(frozen=True)
class FetchedPage:
    page_number: int
    shape: str
    body: str  # exactly as received: what `mono_raw_pages` stores
    transaction_count: int
    fetched_at: datetime
    # The body's transaction objects as parsed on arrival, so later steps never parse the body again.
    transactions: list[dict[str, Any]] = field(default_factory=list, compare=False, repr=False)


@dataclass(frozen=True)
class FetchResult:
    """One account's window as Mono holds it: de-duplicated transactions and the raw pages they came from."""

    account_id: str
    window: DateWindow
    transactions: list[dict[str, Any]]
    page_of_transaction: list[int]  # index into `pages` for each transaction
    pages: list[FetchedPage]
    total_reported: int | None
    duplicates_dropped: int
    restarts: int
    requests: int
    retries: int
    rate_limit_wait_seconds: float
    elapsed_seconds: float
    slowest_page_seconds: float  # the longest wait for one page, retries included (the 2 s SLA)

    @property
    def shapes(self) -> set[str]:
        return {page.shape for page in self.pages}


@dataclass(frozen=True)
class AccountDetails:
    account_id: str
    account_number: str | None  # full number: PII, mask before showing or storing
    institution: str | None
    bank_code: str | None
    currency: str
    balance: int | None
    data_status: str | None


@dataclass
class _Context:
    operation: str
    endpoint: str
    account_id: str | None = None
    window: DateWindow | None = None
    tenant: str | None = None  # whose budget the requests spend (tenant rate limits), if any
    error_kwargs: dict[str, Any] = field(init=False)

    @property
    def metrics_account_id(self) -> str | None:
        """Only transaction fetches are labelled by account: they run in run workers, which push through
        the label budget. Account lookups also run in long-lived processes (discovery sensor, webhook
        receiver) whose /metrics is scraped as is, so they stay under `all`."""
        return self.account_id if self.operation == operations.FETCH_TRANSACTIONS else None

    def __post_init__(self) -> None:
        self.error_kwargs = {
            "operation": self.operation,
            "account_id": self.account_id,
            "window": self.window,
        }


class _Unauthorized(Exception):
    def __init__(self, mono_message: str | None) -> None:
        super().__init__("401")
        self.mono_message = mono_message


class MonoClient:
    def __init__(
        self,
        *,
        token_provider: SecretBackedMonoTokenProvider,
        base_url: str = DEFAULT_BASE_URL,
        rate_limit_per_second: float = 10.0,
        rate_limit_burst: int = 20,
        rate_limiter: TokenBucket | None = None,
        tenant_limiter: TenantLimiter | None = None,
        retry: RetrySettings | None = None,
        timeouts: Timeouts | None = None,
        page_size: int = 1000,
        max_pages: int = 10_000,
        max_connections: int = 10,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise MonoConfigurationError(f"MONO_BASE_URL must be an http(s) URL, not {base_url!r}")
        if page_size < 1:
            raise MonoConfigurationError(f"page size must be at least 1, not {page_size}")
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.max_pages = max_pages
        self._token = token_provider
        self._retry = retry or RetrySettings()
        self._sleep = sleep
        self._limiter = rate_limiter or shared_token_bucket(parts.netloc, rate_limit_per_second, rate_limit_burst)
        self._tenant_limiter = tenant_limiter
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=(timeouts or Timeouts()).to_httpx(),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"accept": "application/json", "user-agent": USER_AGENT},
            follow_redirects=False,
            transport=transport,
        )
        self._stats_lock = threading.Lock()
        self.stats = ClientStats()

    # -- lifecycle ---------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MonoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MonoClient(base_url={self.base_url!r}, page_size={self.page_size}, token={self._token!r})"

    # -- public API ----------------------------------------------------------------------------------
    def fetch_transactions(
        self,
        account_id: str,
        window: DateWindow,
        *,
        transaction_type: str | None = None,
        narration: str | None = None,
        tenant: str | None = None,
    ) -> FetchResult:
        """Every transaction Mono holds for the account in the window (inclusive UTC dates).

        With a `tenant` and a tenant limiter, every request also waits for the tenant's budget.
        """
        validate_account_id(account_id)  # the id becomes a path segment: never an unchecked one
        context = _Context(operations.FETCH_TRANSACTIONS, "/v2/accounts/{id}/transactions", account_id, window, tenant)
        filters = {**window.mono_params(), "paginate": "true", "limit": str(self.page_size)}
        if transaction_type:
            filters["type"] = transaction_type
        if narration:
            filters["narration"] = narration
        fetched_at: list[datetime] = []
        page_seconds: list[float] = []
        before = self._snapshot()
        started = time.perf_counter()

        def fetch_page(page_number: int) -> MonoPage:
            page_started = time.perf_counter()
            page = self._get(
                f"/v2/accounts/{account_id}/transactions",
                {**filters, "page": str(page_number)},
                context,
                parse=parse_transactions_page,
            )
            fetched_at.append(datetime.now(UTC))
            page_seconds.append(time.perf_counter() - page_started)
            return page

        walk = walk_window(fetch_page, page_size=self.page_size, max_pages=self.max_pages)
        # `fetched_at` also holds timestamps of a discarded walk; the kept pages are the last ones.
        stamps = fetched_at[-len(walk.pages) :]
        after = self._snapshot()
        return FetchResult(
            account_id=account_id,
            window=window,
            transactions=walk.transactions,
            page_of_transaction=walk.page_of_transaction,
            pages=[
                FetchedPage(index + 1, page.shape, page.body, len(page.transactions), stamp, page.transactions)
                for index, (page, stamp) in enumerate(zip(walk.pages, stamps, strict=True))
            ],
            total_reported=walk.total_reported,
            duplicates_dropped=walk.duplicates_dropped,
            restarts=walk.restarts,
            requests=after.requests - before.requests,
            retries=after.retries - before.retries,
            rate_limit_wait_seconds=after.rate_limit_wait_seconds - before.rate_limit_wait_seconds,
            elapsed_seconds=time.perf_counter() - started,
            slowest_page_seconds=max(page_seconds, default=0.0),
        )

    def list_accounts(self, *, page_size: int = 100) -> list[dict[str, Any]]:
        """Every linked account `GET /v2/accounts` lists, paging like transactions."""
        context = _Context(operations.LIST_ACCOUNTS, "/v2/accounts")

        def fetch_page(page_number: int) -> MonoPage:
            return self._get(
                "/v2/accounts",
                {"page": str(page_number), "limit": str(page_size)},
                context,
                parse=parse_transactions_page,
            )

        return walk_window(fetch_page, page_size=page_size, max_pages=self.max_pages).transactions

    def get_account(self, account_id: str) -> AccountDetails:
        validate_account_id(account_id)  # the id becomes a path segment: never an unchecked one
        context = _Context(operations.GET_ACCOUNT, "/v2/accounts/{id}", account_id)
        document = self._get(f"/v2/accounts/{account_id}", {}, context, parse=decode_json)
        return _account_details(account_id, document, context)

    # -- transport -----------------------------------------------------------------------------------
    def _snapshot(self) -> ClientStats:
        with self._stats_lock:
            return self.stats.copy()

    def _count(self, *, requests: int = 0, retries: int = 0, waited: float = 0.0) -> None:
        with self._stats_lock:
            self.stats.requests += requests
            self.stats.retries += retries
            self.stats.rate_limit_wait_seconds += waited

    def _get(self, path: str, params: dict[str, str], context: _Context, *, parse: Callable[[str], T]) -> T:
        refreshed = False
        while True:
            try:
                return self._get_with_retries(path, params, context, parse)
            except _Unauthorized as unauthorized:
                if refreshed:
                    raise MonoAuthenticationError(
                        "Mono rejected the secret key (HTTP 401) even after reloading it",
                        status_code=401,
                        mono_message=unauthorized.mono_message,
                        **context.error_kwargs,
                    ) from None
                refreshed = True
                self._token.refresh()

    def _get_with_retries(self, path: str, params: dict[str, str], context: _Context, parse: Callable[[str], T]) -> T:
        def before_sleep(state: Any) -> None:
            failure = state.outcome.exception()
            reason = failure.reason if isinstance(failure, TransientMonoFailure) else "unknown"
            self._count(retries=1)
            metrics.observe_retry(context.metrics_account_id, context.endpoint, reason)

        retrying = Retrying(
            retry=retry_if_exception_type(TransientMonoFailure),
            stop=stop_after_attempt(self._retry.max_attempts) | stop_after_delay(self._retry.max_elapsed_seconds),
            wait=BackoffWait(self._retry),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._send_once, path, params, context, parse)
        except TransientMonoFailure as failure:
            attempts = retrying.statistics.get("attempt_number", self._retry.max_attempts)
            status = f"HTTP {failure.status_code}" if failure.status_code else failure.reason
            raise MonoUnavailableError(
                f"Mono kept failing ({status}) after {attempts} attempts to {self._host()}",
                status_code=failure.status_code,
                mono_message=failure.mono_message,
                **context.error_kwargs,
            ) from None

    def _host(self) -> str:
        return urlsplit(self.base_url).netloc

    def _send_once(self, path: str, params: dict[str, str], context: _Context, parse: Callable[[str], T]) -> T:
        waited = self._limiter.acquire()
        metrics.observe_rate_limit_wait(waited)
        if self._tenant_limiter is not None and context.tenant is not None:
            # Last before sending, so the tenant's shared log is as close to Mono's view as it gets.
            waited += self._tenant_limiter.acquire(context.tenant)
        self._count(requests=1, waited=waited)
        headers = {"mono-sec-key": self._token.secret().get_secret_value()}
        started = time.perf_counter()
        try:
            response = self._http.get(path, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            metrics.observe_request(
                context.metrics_account_id, context.endpoint, "timeout", time.perf_counter() - started
            )
            raise TransientMonoFailure(f"timeout ({exc.__class__.__name__})") from None
        except httpx.TransportError as exc:
            metrics.observe_request(
                context.metrics_account_id, context.endpoint, "connection_error", time.perf_counter() - started
            )
            raise TransientMonoFailure(f"cannot connect ({exc.__class__.__name__})") from None
        metrics.observe_request(
            context.metrics_account_id, context.endpoint, str(response.status_code), time.perf_counter() - started
        )
        return self._interpret(response, context, parse)

    def _interpret(self, response: httpx.Response, context: _Context, parse: Callable[[str], T]) -> T:
        status = response.status_code
        body = response.text
        if status == 200:
            try:
                return parse(body)
            except UnparseableBody:
                raise TransientMonoFailure("unparseable body", status_code=200) from None
            except UnknownShape as exc:
                raise MonoResponseError(str(exc), status_code=200, **context.error_kwargs) from None
        message = mono_message(body)
        if status == 401:
            raise _Unauthorized(message)
        if status == 429 or status >= 500:
            raise TransientMonoFailure(
                f"HTTP {status}",
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                mono_message=message,
            )
        error = MonoNotFoundError if status == 404 else MonoRequestError
        raise error(
            f"Mono refused the request (HTTP {status})",
            status_code=status,
            mono_message=message,
            **context.error_kwargs,
        )


def _account_details(account_id: str, document: Any, context: _Context) -> AccountDetails:
    """Reads the v2 (`data.account`), v1 (flat `data`) and legacy (`account`, camelCase) account shapes."""
    if not isinstance(document, dict):
        raise MonoResponseError("account response is not a JSON object", **context.error_kwargs)
    data = document.get("data") if isinstance(document.get("data"), dict) else document
    account = data.get("account") if isinstance(data.get("account"), dict) else data
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    institution = account.get("institution") if isinstance(account.get("institution"), dict) else {}
    balance = account.get("balance")
    return AccountDetails(
        account_id=str(account.get("id") or account.get("_id") or account_id),
        account_number=account.get("account_number") or account.get("accountNumber"),
        institution=institution.get("name"),
        bank_code=institution.get("bank_code") or institution.get("bankCode"),
        currency=str(account.get("currency") or "NGN").upper(),
        balance=int(balance) if isinstance(balance, int | float) else None,
        data_status=meta.get("data_status") or account.get("data_status"),
    )
