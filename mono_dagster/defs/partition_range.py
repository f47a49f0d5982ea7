"""Which days and shards a run covers, for single partitions and (buggy) multi-partition range runs.

Dagster bugs #28861 and #30786: in a multi-partition range run, `partition_key_range` and friends can
report only the first key. The run's `dagster/asset_partition_range_start`/`_end` tags are the truth,
so they win whenever they are present.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import dagster as dg

from mono_dagster.defs.partitions import (
    DATE_DIMENSION,
    SHARD_DIMENSION,
    mono_partitions,
    shard_index,
    shard_partitions,
)
from mono_dagster.mono import DateWindow

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"  # a single-partition run's key


@dataclass(frozen=True)
class RunScope:
    window: DateWindow
    shards: tuple[int, ...]

    @property
    def description(self) -> str:
        shards = ",".join(str(shard) for shard in self.shards)
        return f"{self.window} shards [{shards}]"


def _split(key: str) -> tuple[date, str]:
    if key.count("|") != 1:
        raise ValueError(f"{key!r} is not a (date, shard) partition key")
    keys = mono_partitions.get_partition_key_from_str(key).keys_by_dimension
    return date.fromisoformat(keys[DATE_DIMENSION]), keys[SHARD_DIMENSION]


def scope_from_keys(start_key: str, end_key: str) -> RunScope:
    start_day, start_shard = _split(start_key)
    end_day, end_shard = _split(end_key)
    shard_keys = shard_partitions.get_partition_keys()
    first, last = sorted((shard_keys.index(start_shard), shard_keys.index(end_shard)))
    return RunScope(
        window=DateWindow(min(start_day, end_day), max(start_day, end_day)),
        shards=tuple(shard_index(key) for key in shard_keys[first : last + 1]),
    )


def run_scope(context: dg.AssetExecutionContext) -> RunScope:
    tags = context.run.tags
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return scope_from_keys(tags[RANGE_START_TAG], tags[RANGE_END_TAG])
    if context.has_partition_key_range:
        key_range = context.partition_key_range
        return scope_from_keys(key_range.start, key_range.end)
    return scope_from_keys(context.partition_key, context.partition_key)
