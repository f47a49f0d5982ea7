"""`MonoResource`: configures and owns one `MonoClient` per run; the client itself is plain Python."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr
from sqlalchemy import Engine

from mono_dagster.mono import MonoClient, RetrySettings, SecretBackedMonoTokenProvider
from mono_dagster.mono.client import DEFAULT_BASE_URL
from mono_dagster.mono.tenant_limits import TenantBudget, TenantLimiter, TenantLimits, shared_tenant_limiter
from mono_dagster.storage.engine import create_db_engine, normalise_url, resolve_database_url
from mono_dagster.storage.migrate import ensure_schema_current


class MonoResource(dg.ConfigurableResource):
    """Mono's API, paced by the process-wide token bucket and retried politely.

    The secret comes from `MONO_SECRET_KEY` or a mounted file named by `MONO_SECRET_KEY_FILE`; both are
    `EnvVar`s, resolved at launch and hidden in the UI. With tenant rate limits configured
    (`tenant_rate_limits` JSON, or `tenant_rate_limits_file`), every transaction request also waits for
    its account's tenant budget, counted in `tenant_rate_limit_store` (default: the pipeline's database).
    """

    secret_key: str | None = None
    secret_key_file: str | None = None
    base_url: str = DEFAULT_BASE_URL
    rate_limit_per_second: float = 10.0
    rate_limit_burst: int = 20
    max_attempts: int = 5
    retry_base_delay_seconds: float = 0.5
    retry_max_delay_seconds: float = 8.0
    page_size: int = 1000
    tenant_rate_limits: str | None = None
    tenant_rate_limits_file: str | None = None
    tenant_rate_limit_store: str | None = None
    tenant_rate_limit_max_wait_seconds: float = 0.0  # 0: wait as long as it takes (never fail for budget)

    _client: MonoClient | None = PrivateAttr(default=None)

    def token_provider(self) -> SecretBackedMonoTokenProvider:
        if self.secret_key_file:
            return SecretBackedMonoTokenProvider(secret_file=self.secret_key_file, env_var=None)
        secret = self.secret_key
        return SecretBackedMonoTokenProvider(loader=lambda: secret or "", env_var=None)

    def build_client(self) -> MonoClient:
        return MonoClient(
            token_provider=self.token_provider(),
            base_url=self.base_url,
            rate_limit_per_second=self.rate_limit_per_second,
            rate_limit_burst=self.rate_limit_burst,
            retry=RetrySettings(
                max_attempts=self.max_attempts,
                base_delay_seconds=self.retry_base_delay_seconds,
                max_delay_seconds=self.retry_max_delay_seconds,
            ),
            page_size=self.page_size,
            tenant_limiter=self.tenant_limiter(),
        )

    def tenant_limiter(self) -> TenantLimiter | None:
        """The process's shared tenant limiter, or None when no tenant limits are configured."""
        file = self.tenant_rate_limits_file
        text = Path(file).read_text(encoding="utf-8") if file else self.tenant_rate_limits
        if not text or not text.strip():
            return None
        fallback = TenantBudget(self.rate_limit_per_second, self.rate_limit_burst)
        limits = TenantLimits.parse(text, fallback=fallback)
        store = normalise_url(self.tenant_rate_limit_store or resolve_database_url())
        bound = self.tenant_rate_limit_max_wait_seconds or None
        return shared_tenant_limiter(limits, store, max_wait_seconds=bound)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._client = self.build_client()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def get_client(self) -> MonoClient:
        """The run's client (built lazily when the resource is used outside a run, e.g. in a sensor)."""
        if self._client is None:
            self._client = self.build_client()
        return self._client


def mono_resource_from_environment(environ: Mapping[str, str] | None = None) -> MonoResource:
    """Wires `MonoResource` to environment variables through `EnvVar` (resolved at launch, not at load)."""
    env = environ if environ is not None else os.environ
    config: dict[str, Any] = {}
    if env.get("MONO_SECRET_KEY_FILE"):
        config["secret_key_file"] = dg.EnvVar("MONO_SECRET_KEY_FILE")
    else:
        config["secret_key"] = dg.EnvVar("MONO_SECRET_KEY")
    if env.get("MONO_BASE_URL"):
        config["base_url"] = dg.EnvVar("MONO_BASE_URL")
    for variable, field, kind in (
        ("MONO_RATE_LIMIT_PER_SECOND", "rate_limit_per_second", float),
        ("MONO_RATE_LIMIT_BURST", "rate_limit_burst", int),
        ("MONO_MAX_ATTEMPTS", "max_attempts", int),
        ("MONO_PAGE_SIZE", "page_size", int),
        ("MONO_TENANT_RATE_LIMIT_MAX_WAIT_SECONDS", "tenant_rate_limit_max_wait_seconds", float),
    ):
        if env.get(variable):
            config[field] = dg.EnvVar.int(variable) if kind is int else float(env[variable])
    for variable, field in (
        ("MONO_TENANT_RATE_LIMITS", "tenant_rate_limits"),
        ("MONO_TENANT_RATE_LIMITS_FILE", "tenant_rate_limits_file"),
        ("MONO_TENANT_RATE_LIMIT_STORE", "tenant_rate_limit_store"),
    ):
        if env.get(variable):
            config[field] = dg.EnvVar(variable)
    if "tenant_rate_limit_store" not in config and env.get("MONO_DAGSTER_DB_URL"):
        config["tenant_rate_limit_store"] = dg.EnvVar("MONO_DAGSTER_DB_URL")
    return MonoResource(**config)


class DatabaseResource(dg.ConfigurableResource):
    """The pipeline's own database (not Dagster's): Postgres in production, an embedded SQLite file first.

    `url` comes from `MONO_DAGSTER_DB_URL`; without it, `mono_dagster.sqlite` under `DAGSTER_HOME` (or
    `./.mono_dagster`). An embedded SQLite database is migrated on first use; Postgres must be migrated
    explicitly with `mono-dagster db upgrade`, so a deploy never changes a production schema by surprise.
    """

    url: str | None = None

    def resolved_url(self) -> str:
        return self.url or resolve_database_url()

    def get_engine(self) -> Engine:
        url = self.resolved_url()
        engine = create_db_engine(url)
        if engine.dialect.name == "sqlite":
            ensure_schema_current(url, upgrade=True)
        else:
            ensure_schema_current(url, upgrade=False)
        return engine


def database_resource_from_environment(environ: Mapping[str, str] | None = None) -> DatabaseResource:
    env = environ if environ is not None else os.environ
    if env.get("MONO_DAGSTER_DB_URL"):
        return DatabaseResource(url=dg.EnvVar("MONO_DAGSTER_DB_URL"))
    return DatabaseResource()
