"""Every partition definition of the code location, and nothing else.

A partition is (UTC day, shard). Accounts are NOT a partition dimension: Dagster advises at most
100,000 partitions per asset, and a UI backfill makes one run per partition row, so accounts x days
stops working past a few hundred accounts. Accounts map to a fixed number of shards by a stable hash
(`storage.accounts.shard_for`); see docs/architecture.md.
"""

from __future__ import annotations

import dagster as dg

from mono_dagster.settings import Settings

_settings = Settings.from_env()

DATE_DIMENSION = "date"
SHARD_DIMENSION = "shard"
SHARD_COUNT = _settings.shard_count


def shard_key(shard: int) -> str:
    return f"shard-{shard:02d}"


def shard_index(key: str) -> int:
    return int(key.removeprefix("shard-"))


daily_partitions = dg.DailyPartitionsDefinition(start_date=_settings.partitions_start_date.isoformat(), timezone="UTC")
shard_partitions = dg.StaticPartitionsDefinition([shard_key(shard) for shard in range(SHARD_COUNT)])
mono_partitions = dg.MultiPartitionsDefinition({DATE_DIMENSION: daily_partitions, SHARD_DIMENSION: shard_partitions})
