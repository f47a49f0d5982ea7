"""One settings object, read from environment variables; `.env.example` lists each with its default.

Partition layout (start date, shard count) is read when the code location loads, because Dagster
builds partition definitions at import time; everything else is read when a run or command starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from mono_dagster.mono.client import DEFAULT_BASE_URL

# env var -> settings field
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "MONO_BASE_URL": "mono_base_url",
    "MONO_RATE_LIMIT_PER_SECOND": "rate_limit_per_second",
    "MONO_RATE_LIMIT_BURST": "rate_limit_burst",
    "MONO_MAX_ATTEMPTS": "max_attempts",
    "MONO_PAGE_SIZE": "page_size",
    "MONO_PARTITIONS_START_DATE": "partitions_start_date",
    "MONO_SHARD_COUNT": "shard_count",
    "MONO_RAW_RETENTION_DAYS": "raw_retention_days",
    "MONO_DAILY_SYNC_CRON": "daily_sync_cron",
    "MONO_LOOKBACK_DAYS": "lookback_days",
    "MONO_INGESTION_ENABLED": "ingestion_enabled",
    "MONO_ACCOUNT_ALLOWLIST": "account_allowlist",
    "MONO_ACCOUNT_DENYLIST": "account_denylist",
    "MONO_INITIAL_BACKFILL_DAYS": "initial_backfill_days",
    "MONO_ZERO_TRANSACTION_STREAK": "zero_transaction_streak",
    "MONO_EVENTS_PUBLISHER": "events_publisher",
    "MONO_EVENTS_AMQP_URL": "events_amqp_url",
    "MONO_EVENTS_AMQP_EXCHANGE": "events_amqp_exchange",
    "MONO_EVENTS_AMQP_MESSAGE_TTL_SECONDS": "events_amqp_message_ttl_seconds",
    "MONO_EVENTS_WEBHOOK_URL": "events_webhook_url",
    "MONO_EVENTS_WEBHOOK_SECRET": "events_webhook_secret",
    "MONO_EVENTS_RELAY_BATCH_SIZE": "events_relay_batch_size",
    "MONO_WEBHOOK_SCHEMES": "webhook_schemes",
    "MONO_WEBHOOK_MAX_BODY_BYTES": "webhook_max_body_bytes",
    "MONO_WEBHOOK_RESYNC_DAYS": "webhook_resync_days",
    "MONO_SYNTHETIC_ACCOUNT_ID": "synthetic_account_id",
    "MONO_SYNTHETIC_WINDOW_DAYS": "synthetic_window_days",
    "MONO_TENANT_RATE_LIMITS": "tenant_rate_limits",
    "MONO_TENANT_RATE_LIMITS_FILE": "tenant_rate_limits_file",
    "MONO_TENANT_RATE_LIMIT_STORE": "tenant_rate_limit_store",
    "MONO_TENANT_RATE_LIMIT_MAX_WAIT_SECONDS": "tenant_rate_limit_max_wait_seconds",
    "MONO_LOG_FORMAT": "log_format",
}

# How a webhook's `mono-webhook-secret` header may prove it is Mono's: the secret itself (Mono's
# documented scheme) or the HMAC-SHA512 hex digest of the raw body under the secret (the RFC's).
WEBHOOK_SCHEMES: tuple[str, ...] = ("secret", "hmac-sha512")


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


class Settings(BaseModel, frozen=True):
    mono_base_url: str = DEFAULT_BASE_URL
    rate_limit_per_second: float = Field(10.0, gt=0)
    rate_limit_burst: int = Field(20, ge=1)
    max_attempts: int = Field(5, ge=1, le=20)
    page_size: int = Field(1000, ge=1)
    partitions_start_date: date = date(2024, 1, 1)
    shard_count: int = Field(8, ge=1, le=256)
    raw_retention_days: int = Field(30, ge=1)
    daily_sync_cron: str = "0 2 * * *"  # Africa/Lagos time
    lookback_days: int = Field(7, ge=0, le=90)  # days before yesterday re-fetched daily (late and changed rows)
    ingestion_enabled: bool = True  # the RFC's feature flag: false makes the sync schedule skip
    account_allowlist: str = ""  # comma-separated Mono ids; when set, discovery registers only these
    account_denylist: str = ""  # comma-separated Mono ids discovery never registers
    initial_backfill_days: int = Field(90, ge=1, le=3660)  # window a newly discovered account is resynced
    zero_transaction_streak: int = Field(3, ge=1, le=365)  # successive empty fetches that warn the chat
    # Event delivery (mono_dagster/events): which publisher the outbox relay uses, and its settings.
    events_publisher: Literal["amqp", "webhook", "log"] = "amqp"
    events_amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/%2F")
    events_amqp_exchange: str = Field("taxpoynt.mono.events", min_length=1)  # also names the queues
    events_amqp_message_ttl_seconds: int = Field(604800, ge=0)  # 0: messages never expire into the DLQ
    events_webhook_url: str = ""
    events_webhook_secret: SecretStr = SecretStr("")
    events_relay_batch_size: int = Field(100, ge=1, le=10000)
    webhook_schemes: str = ",".join(WEBHOOK_SCHEMES)  # comma-separated subset of WEBHOOK_SCHEMES
    webhook_max_body_bytes: int = Field(256 * 1024, ge=1024, le=16 * 1024 * 1024)
    webhook_resync_days: int = Field(7, ge=1, le=90)  # window (to yesterday) an account_updated event resyncs
    # Synthetic monitoring (defs/synthetic_monitoring.py): the account fetched every 30 minutes; empty: skip.
    synthetic_account_id: str = ""
    synthetic_window_days: int = Field(1, ge=1, le=31)  # days before today (UTC) the synthetic fetch covers
    # Tenant budgets (mono/tenant_limits.py): JSON, or a file of it (wins); empty: no tenant limits.
    tenant_rate_limits: str = ""
    tenant_rate_limits_file: str = ""
    tenant_rate_limit_store: str = ""  # database URL counting the budgets; empty: MONO_DAGSTER_DB_URL
    tenant_rate_limit_max_wait_seconds: float = Field(0.0, ge=0, le=86400)  # 0: no bound, a tenant waits
    # Logs (observability/logs.py): `json` adds the JSON `mono-pipeline` stream on stderr to every process.
    log_format: Literal["text", "json"] = "text"

    @field_validator("webhook_schemes")
    @classmethod
    def _known_schemes(cls, value: str) -> str:
        schemes = [part.strip() for part in value.split(",") if part.strip()]
        unknown = [scheme for scheme in schemes if scheme not in WEBHOOK_SCHEMES]
        if not schemes or unknown:
            raise ValueError(f"must name one or more of {', '.join(WEBHOOK_SCHEMES)}")
        return ",".join(schemes)

    @staticmethod
    def id_set(value: str) -> frozenset[str]:
        return frozenset(part.strip() for part in value.split(",") if part.strip())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = environ if environ is not None else os.environ
        values: dict[str, Any] = {
            field: env[variable] for variable, field in ENVIRONMENT_VARIABLES.items() if env.get(variable)
        }
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0])
            variable = next(var for var, name in ENVIRONMENT_VARIABLES.items() if name == field)
            raise SettingsError(f"{variable}={env.get(variable)!r} is not valid: {first['msg']}") from None
