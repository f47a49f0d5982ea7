"""Failed asset checks as alerts: ERROR-severity checks page on-call, WARN ones go to the chat channel.

The key is the check and the partition (or the run's partition range), so a check failing again for the
same partitions is not sent twice, and a later pass of that check for them resolves it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from mono_dagster.notify.alert import Alert

CHECK_KEY_PREFIX = "asset_check:"
# Metadata entries that hold a sample of what failed, in the order they are quoted.
SAMPLE_ENTRIES: tuple[str, ...] = (
    "failure_sample",
    "sample",
    "unaccounted_sample",
    "quarantine_sample",
    "errors",
    "failed_accounts",
    "stale_accounts",
)
SAMPLE_LIMIT = 1_000


@dataclass(frozen=True)
class CheckEvaluation:
    """One asset check evaluation of a finished run."""

    asset: str
    check: str
    passed: bool
    severity: str  # "ERROR" or "WARN"
    partition: str  # the evaluation's partition, else the run's partition range, else "unpartitioned"
    run_id: str
    job: str
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        key = f"{CHECK_KEY_PREFIX}{self.asset}:{self.check}:{self.partition}"
        return key[:255]


def evaluation_from_dagster(
    evaluation: dg.AssetCheckEvaluation, *, run_id: str, job: str, run_partition: str
) -> CheckEvaluation:
    return CheckEvaluation(
        asset=evaluation.asset_key.to_user_string(),
        check=evaluation.check_name,
        passed=evaluation.passed,
        severity=evaluation.severity.value,
        partition=evaluation.partition or run_partition,
        run_id=run_id,
        job=job,
        description=evaluation.description,
        metadata={key: metadata_value(value) for key, value in evaluation.metadata.items()},
    )


def metadata_value(value: Any) -> Any:
    """The plain value of a `MetadataValue` (text of Markdown, the data of JSON, numbers as numbers)."""
    raw = getattr(value, "value", value)
    if isinstance(raw, bool | int | float | str | list | dict) or raw is None:
        return raw
    return str(raw)


def check_alert(evaluation: CheckEvaluation) -> Alert:
    """The alert of a failed check: ERROR pages on-call (severity error), WARN goes to chat (warning)."""
    error = evaluation.severity == dg.AssetCheckSeverity.ERROR.value
    counts = {
        key: value
        for key, value in evaluation.metadata.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    sample = _sample(evaluation.metadata)
    details: dict[str, object] = {
        "asset": evaluation.asset,
        "check": evaluation.check,
        "check_severity": evaluation.severity,
        "partition": evaluation.partition,
        "run_id": evaluation.run_id,
        "job": evaluation.job,
        **({"description": evaluation.description} if evaluation.description else {}),
        **counts,
        "sample": sample,
        "component": evaluation.asset,
        "group": evaluation.partition,
        "class": "asset_check",
    }
    return Alert(
        dedup_key=evaluation.dedup_key,
        severity="error" if error else "warning",
        route="oncall" if error else "chat",
        summary=f"Asset check {evaluation.asset}/{evaluation.check} failed for {evaluation.partition}",
        details=details,
    )


def _sample(metadata: Mapping[str, Any]) -> str:
    parts = []
    for key in SAMPLE_ENTRIES:
        value = metadata.get(key)
        if value in (None, "", [], {}, "_none_"):
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key}: {text}")
    sample = "\n".join(parts) or "(no sample in the check's metadata)"
    return sample if len(sample) <= SAMPLE_LIMIT else sample[: SAMPLE_LIMIT - 1] + "…"


__all__: Sequence[str] = ["CHECK_KEY_PREFIX", "CheckEvaluation", "check_alert", "evaluation_from_dagster"]
