"""Fixtures for the webhook tests: a migrated database (SQLite and Postgres), the receiver on a real
loopback port, and helpers that read the inbox back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from mono_dagster.storage.engine import create_db_engine, dispose_engines
from mono_dagster.storage.migrate import upgrade_database
from mono_dagster.storage.tables import mono_webhook_inbox
from mono_dagster.webhooks.app import build_app
from mono_dagster.webhooks.config import WebhookConfig
from mono_dagster.webhooks.server import WebhookServer

# The sandbox + database + Dagster instance fixtures of the pipeline tests.
from mono_dagster_tests.pipeline.conftest import last_days, pipeline  # noqa: F401

SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture()
def inbox_url(database_url) -> Iterator[str]:
    upgrade_database(database_url)
    yield database_url
    dispose_engines()


@contextmanager
def running_receiver(
    database_url: str,
    *,
    secret: str = SECRET,
    schemes: frozenset[str] = frozenset({"secret", "hmac-sha512"}),
    max_body_bytes: int = 256 * 1024,
    received_at: datetime | None = None,
) -> Iterator[WebhookServer]:
    """`received_at` pins the receiver's clock: identical bodies then always fall in one de-duplication hour."""
    config = WebhookConfig(secret=secret.encode(), schemes=schemes, max_body_bytes=max_body_bytes)
    clock = (lambda: received_at) if received_at is not None else (lambda: datetime.now(UTC))
    with WebhookServer(build_app(config, create_db_engine(database_url), clock)) as server:
        yield server


@pytest.fixture()
def receiver(inbox_url) -> Iterator[WebhookServer]:
    """The receiver accepting both schemes, with the default 256 KiB body limit and a pinned clock."""
    with running_receiver(inbox_url, received_at=datetime.now(UTC)) as server:
        yield server


@pytest.fixture()
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.fixture()
def inbox(inbox_url) -> Callable[[], list[dict[str, Any]]]:
    """Every inbox row, in id order."""

    def rows() -> list[dict[str, Any]]:
        with create_db_engine(inbox_url).connect() as conn:
            query = sa.select(mono_webhook_inbox).order_by(mono_webhook_inbox.c.id)
            return [dict(row._mapping) for row in conn.execute(query)]

    return rows
