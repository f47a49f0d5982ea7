"""The asset job that syncs (date, shard) partitions: the three assets and their checks."""

from __future__ import annotations

import dagster as dg

from mono_dagster.defs import names

SYNC_JOB = "mono_sync_job"

mono_sync_job = dg.define_asset_job(
    SYNC_JOB,
    # The freshness check is about the whole fleet; it runs on its own schedule, not inside a shard's run.
    selection=dg.AssetSelection.groups(names.GROUP)
    - dg.AssetSelection.checks(dg.AssetCheckKey(dg.AssetKey(names.PERSISTED_ASSET), names.FRESHNESS_CHECK)),
    description="Syncs Mono transactions for a (date, shard) partition range: raw → canonical → persisted.",
    tags={"provider": "mono"},
)
