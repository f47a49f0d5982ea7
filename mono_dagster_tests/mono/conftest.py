from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mono_dagster.mono import MonoClient, RetrySettings, SecretBackedMonoTokenProvider, TokenBucket

# Short sleeps keep the fault tests quick; the Retry-After tests use their own settings.
FAST_RETRY = RetrySettings(
    max_attempts=8, base_delay_seconds=0.005, max_delay_seconds=0.02, max_retry_after_seconds=0.02
)


@pytest.fixture()
def make_client(sandbox) -> Iterator[Callable[..., MonoClient]]:
    clients: list[MonoClient] = []

    def build(**overrides: Any) -> MonoClient:
        options: dict[str, Any] = {
            "token_provider": SecretBackedMonoTokenProvider(loader=lambda: sandbox.state.secret_key, env_var=None),
            "base_url": sandbox.base_url,
            "rate_limiter": TokenBucket(1000, 1000),
            "retry": FAST_RETRY,
            "page_size": 20,
        }
        options.update(overrides)
        client = MonoClient(**options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def ids(transactions: list[dict[str, Any]]) -> list[str]:
    return [str(txn.get("id") or txn.get("_id")) for txn in transactions]
