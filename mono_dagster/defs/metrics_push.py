"""Hooks on the sync assets that push the run's metrics to the Pushgateway when a step ends, either way.

Hooks sit on the assets (`asset_common.COMMON_ASSET_ARGS`), so every run that materializes them pushes:
daemon-launched, launched from the UI (the implicit asset job) and the CLI's in-process runs. They run in
the step's process after the step ends, success or failure; the push itself (`observability/push.py`)
never raises and is a no-op unless `PROMETHEUS_PUSHGATEWAY_URL` is set.

The hooks also decide how `account_id` is exported (`observability/metrics.py`): the account registry's
size is read once per process (a COUNT) and compared with `MONO_METRICS_ACCOUNT_LABEL_LIMIT`, so every run
that reads the same registry labels every account the same way; above the limit each push reads the
touched buckets' max failure streak and min last success from the registry (one query).
"""

import logging
import threading
from collections.abc import Collection, Mapping

import dagster as dg
from sqlalchemy import Engine

from mono_dagster.defs.partition_range import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG, scope_from_keys
from mono_dagster.defs.partitions import shard_key
from mono_dagster.observability.metrics import AccountLabelPolicy, bucket_gauge_values, fleet_size
from mono_dagster.observability.push import BucketGauges, gateway_url_from_env, push_run_metrics

logger = logging.getLogger(__name__)


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


_policies: dict[str, AccountLabelPolicy] = {}
_policies_lock = threading.Lock()


def label_policy(engine: Engine) -> AccountLabelPolicy | None:
    """This process's label policy for the registry behind `engine` (read once); None if it cannot be read."""
    key = engine.url.render_as_string(hide_password=True)
    with _policies_lock:
        if key not in _policies:
            try:
                with engine.connect() as conn:
                    _policies[key] = AccountLabelPolicy.for_fleet(fleet_size(conn))
            except Exception as exc:  # the push must never fail the run; the next process decides again
                logger.warning(
                    "could not count the registered accounts (%s); metrics keep the recorded account ids",
                    exc.__class__.__name__,
                )
                return None
        return _policies[key]


def registry_bucket_gauges(engine: Engine, policy: AccountLabelPolicy) -> BucketGauges:
    """The `bucket_gauges` reader for a push: the touched buckets' values over all their active accounts."""

    def read(labels: Collection[str]) -> Mapping[str, Mapping[str, float]]:
        with engine.connect() as conn:
            return bucket_gauge_values(conn, policy, labels)

    return read


def _push(context: dg.HookContext) -> None:
    if gateway_url_from_env() is None:
        return
    run = context.instance.get_run_by_id(context.run_id)
    shard_keys = run_shard_keys(dict(run.tags)) if run is not None else []
    policy, bucket_gauges = None, None
    try:
        engine = context.resources.database.get_engine()  # the process's shared engine (never disposed here)
    except Exception as exc:  # the push must never fail the run
        context.log.warning(
            f"metrics pushed with the recorded account ids: no account registry ({exc.__class__.__name__})"
        )
    else:
        policy = label_policy(engine)
        if policy is not None and policy.bucketed:
            bucket_gauges = registry_bucket_gauges(engine, policy)
    outcome = push_run_metrics(shard_keys, labels=policy, bucket_gauges=bucket_gauges)
    if outcome is not None and not outcome.ok:
        context.log.warning(
            f"metrics not pushed to the Pushgateway (shard group {outcome.shard_group}): {outcome.error}"
        )


@dg.success_hook(name="mono_push_metrics_on_success", required_resource_keys={"database"})
def push_metrics_on_success(context: dg.HookContext) -> None:
    """Pushes the run's metrics after a successful step."""
    _push(context)


@dg.failure_hook(name="mono_push_metrics_on_failure", required_resource_keys={"database"})
def push_metrics_on_failure(context: dg.HookContext) -> None:
    """Pushes the run's metrics after a failed step (the failure streak is what on-call needs)."""
    _push(context)


PUSH_METRICS_HOOKS = {push_metrics_on_success, push_metrics_on_failure}
