"""Launching sync runs from the command line, on the Dagster instance in `DAGSTER_HOME`.

One run per shard covers the whole date range (a single-run backfill box), so the runs and their
partition statuses show in the UI exactly as if a user had launched them there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg

from mono_dagster.defs import names
from mono_dagster.defs.instance_lock import open_instance
from mono_dagster.defs.jobs import SYNC_JOB
from mono_dagster.defs.partition_range import RANGE_END_TAG, RANGE_START_TAG
from mono_dagster.defs.partitions import DATE_DIMENSION, SHARD_DIMENSION, shard_key
from mono_dagster.defs.run_errors import run_failure_summary
from mono_dagster.defs.run_identity import CORRELATION_TAG
from mono_dagster.defs.run_recovery import launcher_tags, recover_dead_runs

EMBEDDED_INSTANCE_YAML = """\
# Embedded Dagster instance for the demo and `dagster dev`: SQLite storage under this folder.
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator.sync_in_memory_run_coordinator
  class: SyncInMemoryRunCoordinator
"""


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    severity: str


@dataclass(frozen=True)
class ShardRun:
    shard: int
    run_id: str
    success: bool
    checks: tuple[CheckOutcome, ...] = field(default_factory=tuple)
    error: str | None = None

    @property
    def failed_checks(self) -> tuple[CheckOutcome, ...]:
        return tuple(check for check in self.checks if not check.passed)


def ensure_dagster_home(default: Path) -> Path:
    """`DAGSTER_HOME`, or an embedded SQLite instance under `default` for a first run."""
    home = os.environ.get("DAGSTER_HOME")
    path = Path(home) if home else default
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        config.write_text(EMBEDDED_INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(path.resolve())
    return path.resolve()


# One run at a time per shard (dagster.yaml's tag_concurrency_limits) for the range runs we launch.
SHARD_TAG = "mono/shard"


def partition_range_tags(start: date, end: date, shard: int, last_shard: int | None = None) -> dict[str, str]:
    """Tags of a single run over days start..end and shards shard..last_shard (a box)."""

    def key(day: date, index: int) -> str:
        return str(dg.MultiPartitionKey({DATE_DIMENSION: day.isoformat(), SHARD_DIMENSION: shard_key(index)}))

    tags = {RANGE_START_TAG: key(start, shard), RANGE_END_TAG: key(end, shard if last_shard is None else last_shard)}
    if last_shard is None or last_shard == shard:
        # Dagster tags a range run with no `dagster/partition/shard`; dagster.yaml limits this one per shard.
        tags[SHARD_TAG] = shard_key(shard)
    return tags


def sync_config(accounts: Sequence[str], *, console_log_level: str = "WARNING") -> dict:
    """Run config: the accounts filter, and a quiet console (the CLI prints its own progress)."""
    return {
        "ops": {names.RAW_ASSET: {"config": {"accounts": list(accounts)}}},
        "loggers": {"console": {"config": {"log_level": console_log_level}}},
    }


def shard_plan(
    shards: Sequence[int], accounts_by_shard: Mapping[int, Sequence[str]] | None
) -> list[tuple[int, tuple[str, ...]]]:
    """(shard, its accounts filter) for each run to launch, in the order of `shards`.

    Without `accounts_by_shard` every shard runs unfiltered (all its active accounts). With it, each
    shard's run gets only that shard's accounts, and a shard given none gets no run: an empty filter
    would mean "every account of the shard", the opposite of what was asked.
    """
    if accounts_by_shard is None:
        return [(shard, ()) for shard in shards]
    outside = sorted(set(accounts_by_shard) - set(shards))
    if outside:
        raise ValueError(f"accounts given for shards {outside}, which are not among the shards to run {list(shards)}")
    return [(shard, tuple(accounts_by_shard[shard])) for shard in shards if accounts_by_shard.get(shard)]


def run_shards(
    start: date,
    end: date,
    shards: Sequence[int],
    *,
    accounts_by_shard: Mapping[int, Sequence[str]] | None = None,
    instance: dg.DagsterInstance | None = None,
    job: dg.JobDefinition | None = None,
    on_run: Callable[[ShardRun], None] | None = None,
) -> list[ShardRun]:
    """One run per shard over start..end, in turn; `accounts_by_shard` narrows them (see `shard_plan`)."""
    if job is None:
        from mono_dagster.definitions import defs  # the code location reads its settings when first imported

        job = defs.resolve_job_def(SYNC_JOB)
    if instance is None:
        instance = open_instance()
        # One process launching run after run: hold pooled storage connections, as dagster-webserver does,
        # not one new Postgres connection per event (fleet_bench, 200 accounts: 20-27% less wall time).
        instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=10)
    recover_dead_runs(instance)  # runs of killed CLI processes: failed, slots freed, stage cleared
    runs = []
    for shard, accounts in shard_plan(shards, accounts_by_shard):
        run = run_shard(job, instance, start, end, shard, accounts)
        runs.append(run)
        if on_run is not None:
            on_run(run)
    return runs


def run_shard(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    start: date,
    end: date,
    shard: int,
    accounts: Sequence[str] = (),
) -> ShardRun:
    """One in-process run over days start..end of one shard; `accounts` empty syncs all its active accounts."""
    tags = {
        **partition_range_tags(start, end, shard),
        CORRELATION_TAG: str(uuid.uuid4()),
        "mono/launched_by": "mono-dagster-cli",
        **launcher_tags(),
    }
    result = job.execute_in_process(
        instance=instance, tags=tags, run_config=sync_config(accounts), raise_on_error=False
    )
    checks = tuple(
        CheckOutcome(
            asset=evaluation.asset_key.to_user_string(),
            check=evaluation.check_name,
            passed=evaluation.passed,
            severity=evaluation.severity.value,
        )
        for evaluation in result.get_asset_check_evaluations()
    )
    error = None
    if not result.success:
        error = run_failure_summary(result)
    return ShardRun(shard=shard, run_id=result.run_id, success=result.success, checks=checks, error=error)
