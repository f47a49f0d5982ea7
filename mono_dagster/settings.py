"""One settings object, read from environment variables; `.env.example` lists each with its default.

Partition layout (start date, shard count) is read when the code location loads, because Dagster
builds partition definitions at import time; everything else is read when a run or command starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel, Field, ValidationError

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
}


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
