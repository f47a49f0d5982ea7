"""The Mono API layer: client, response shapes, pagination, auth, rate limiting, retries, metrics.

Plain Python with no Dagster imports, so it can be used and tested on its own.
"""

from mono_dagster.mono.auth import SecretBackedMonoTokenProvider
from mono_dagster.mono.client import FetchResult, MonoClient, RetrySettings, Timeouts
from mono_dagster.mono.errors import (
    MonoAuthenticationError,
    MonoConfigurationError,
    MonoError,
    MonoNotFoundError,
    MonoPaginationError,
    MonoRequestError,
    MonoUnavailableError,
)
from mono_dagster.mono.rate_limit import TokenBucket, shared_token_bucket
from mono_dagster.mono.window import DateWindow

__all__ = [
    "DateWindow",
    "FetchResult",
    "MonoAuthenticationError",
    "MonoClient",
    "MonoConfigurationError",
    "MonoError",
    "MonoNotFoundError",
    "MonoPaginationError",
    "MonoRequestError",
    "MonoUnavailableError",
    "RetrySettings",
    "SecretBackedMonoTokenProvider",
    "Timeouts",
    "TokenBucket",
    "shared_token_bucket",
]
