"""Hooks on the sync assets that push the run's metrics to the Pushgateway when a step ends, either way.

Hooks sit on the assets (`asset_common.COMMON_ASSET_ARGS`), so every run that materializes them pushes:
daemon-launched, launched from the UI (the implicit asset job) and the CLI's in-process runs. They run in
the step's process after the step ends, success or failure; the push itself (`observability/push.py`)
never raises and is a no-op unless `PROMETHEUS_PUSHGATEWAY_URL` is set.
"""

import dagster as dg

from mono_dagster.defs.partition_range import RANGE_END_TAG, RANGE_START_TAG, scope_from_keys
from mono_dagster.defs.partitions import shard_key
from mono_dagster.observability.push import gateway_url_from_env, push_run_metrics

PARTITION_TAG = "dagster/partition"


def run_shard_keys(tags: dict[str, str]) -> list[str]:
    """The shard keys a run covers, from its partition (range) tags; empty when they do not say."""
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        start, end = tags[RANGE_START_TAG], tags[RANGE_END_TAG]
    elif PARTITION_TAG in tags:
        start = end = tags[PARTITION_TAG]
    else:
        return []
    try:
        return [shard_key(shard) for shard in scope_from_keys(start, end).shards]
    except ValueError:
        return []


def _push(context: dg.HookContext) -> None:
    if gateway_url_from_env() is None:
        return
    run = context.instance.get_run_by_id(context.run_id)
    outcome = push_run_metrics(run_shard_keys(dict(run.tags)) if run is not None else [])
    if outcome is not None and not outcome.ok:
        context.log.warning(
            f"metrics not pushed to the Pushgateway (shard group {outcome.shard_group}): {outcome.error}"
        )


@dg.success_hook(name="mono_push_metrics_on_success")
def push_metrics_on_success(context: dg.HookContext) -> None:
    """Pushes the run's metrics after a successful step."""
    _push(context)


@dg.failure_hook(name="mono_push_metrics_on_failure")
def push_metrics_on_failure(context: dg.HookContext) -> None:
    """Pushes the run's metrics after a failed step (the failure streak is what on-call needs)."""
    _push(context)


PUSH_METRICS_HOOKS = {push_metrics_on_success, push_metrics_on_failure}
