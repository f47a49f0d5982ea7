"""Typed errors a user can act on: each names the operation, the account, the window and Mono's message.

None of them ever carries the secret key: messages are built from ids, dates, statuses and Mono's own
`message` field, never from request headers.
"""

from __future__ import annotations

from mono_dagster.mono.window import DateWindow


class MonoError(Exception):
    """Base class for everything the Mono layer raises."""

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        account_id: str | None = None,
        window: DateWindow | None = None,
        status_code: int | None = None,
        mono_message: str | None = None,
    ) -> None:
        self.operation = operation
        self.account_id = account_id
        self.window = window
        self.status_code = status_code
        self.mono_message = mono_message
        super().__init__(self._compose(message))

    def _compose(self, message: str) -> str:
        where = []
        if self.account_id:
            where.append(f"account {self.account_id}")
        if self.window:
            where.append(f"window {self.window}")
        prefix = f"{self.operation}: " if self.operation else ""
        context = f" ({', '.join(where)})" if where else ""
        detail = f"; Mono said: {self.mono_message!r}" if self.mono_message else ""
        return f"{prefix}{message}{context}{detail}"


class MonoConfigurationError(MonoError):
    """The client cannot start: no secret key, a bad base URL, an invalid setting."""


class MonoAuthenticationError(MonoError):
    """Mono rejected the secret key (401), even after one refresh of the key."""


class MonoRequestError(MonoError):
    """Mono refused the request (400, 402, 403, 409...): retrying the same request cannot help."""


class MonoNotFoundError(MonoRequestError):
    """The account (or path) does not exist at Mono (404)."""


class MonoUnavailableError(MonoError):
    """Mono kept failing (429, 5xx, timeouts, unreachable, bad bodies) until the retry budget ran out."""


class MonoResponseError(MonoError):
    """A response that parsed but is not any of Mono's three known shapes."""


class MonoPaginationError(MonoError):
    """Paging went wrong: a page number that does not increase, an endless walk, `total` changing twice."""
