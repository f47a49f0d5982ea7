"""The run's identity for logs, tags and events: run id, correlation id and partition description.

The correlation id is an opaque UUID: the `mono/correlation_id` tag when the launcher set one (the
CLI does), else derived from the run id, and written back to the run's tags so the UI shows it.
"""

from __future__ import annotations

import uuid

import dagster as dg

from mono_dagster.defs.partition_range import RunScope
from mono_dagster.pipeline.sync import RunIdentity

CORRELATION_TAG = "mono/correlation_id"
_CORRELATION_NAMESPACE = uuid.UUID("0b4f9d3e-52a4-4c4e-9f57-3c1d7c2a9e10")


def correlation_id_for_run(run_id: str) -> str:
    return str(uuid.uuid5(_CORRELATION_NAMESPACE, run_id))


def run_identity(context: dg.AssetExecutionContext, scope: RunScope) -> RunIdentity:
    run = context.run
    correlation_id = run.tags.get(CORRELATION_TAG) or correlation_id_for_run(run.run_id)
    if CORRELATION_TAG not in run.tags:
        context.instance.add_run_tags(run.run_id, {CORRELATION_TAG: correlation_id})
    return RunIdentity(run_id=run.run_id, correlation_id=correlation_id, partition_key=scope.description)
