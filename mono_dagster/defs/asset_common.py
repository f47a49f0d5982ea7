"""What the three partitioned assets share: group, partitions, single-run backfills, owners, tags."""

from __future__ import annotations

import dagster as dg

from mono_dagster.defs import names
from mono_dagster.defs.metrics_push import PUSH_METRICS_HOOKS
from mono_dagster.defs.partitions import mono_partitions

# A run covers a contiguous (days x shards) box in ONE run, with one Mono date window per account.
COMMON_ASSET_ARGS = {
    "group_name": names.GROUP,
    "partitions_def": mono_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "owners": names.OWNERS,
    "tags": {"provider": "mono", "domain": "banking"},
    # Every run that materializes them pushes its metrics when a step ends (PROMETHEUS_PUSHGATEWAY_URL).
    "hooks": PUSH_METRICS_HOOKS,
}
