"""Pushes this process's pipeline and Mono client metrics to a Prometheus Pushgateway after each run step.

Why not a plain `push_to_gateway` per run: each Dagster run is its own process, so its registry starts
at zero. The alert rules take `rate()`/`increase()` of counters and histograms, and two runs that each
push "1 error" would look like one error followed by none; a failed run's push would also replace the
group and erase the last-success gauge the alerts need. So a push works like this:

* **Counters and histograms** (`taxpoynt_mono_pipeline_*`, `taxpoynt_mono_client_*`,
  `taxpoynt_mono_synthetic_*`; python/process
  collectors and other services' metrics are never pushed) go to the group
  `{job="mono_pipeline", shard=<the run's shard>}`, `shard="multi"` for a run over several shards. A push
  reads the group's current samples from the Pushgateway (`GET /metrics`, parsed with
  `prometheus_client.parser`), adds what this process counted since its last push to that gateway, and
  PUTs the group back (`push_to_gateway`). The pushed series are therefore cumulative across runs and
  only ever grow. The process remembers what it already pushed, so pushing twice (a success hook per
  step, a retried step, two shards run by one CLI process) never counts anything twice; whichever group
  receives a delta, `sum by (...)` over the `shard` label is right.
* **Gauges** (failure streak, last success) describe an account, not a run, and an account could show up
  in its shard's group and in `multi`, where a stale copy would keep an alert firing. They go to one group
  per account label, `{job="mono_pipeline", account_id=<label>}`, with `pushadd_to_gateway` (POST): only
  the families pushed are replaced, so a failed account's push updates its streak and keeps its older
  last-success timestamp. Only gauges this process changed since its last push are sent, so a
  long-lived process never overwrites a newer value with a stale one it still holds. Gauges without
  `account_id` stay in the shard group (local value wins, the others are kept).
* **Account labels** (`AccountLabelPolicy` in `observability/metrics.py`, given by the hook): the process
  records by account id; a push maps every `account_id` through the policy. By id, nothing changes.
  Bucketed (the registry holds more than `MONO_METRICS_ACCOUNT_LABEL_LIMIT` accounts), counters and
  histograms are summed per bucket, and the failure-streak and last-success gauges of the buckets this
  process touched are NOT this process's values (it saw only its own accounts, and a gauge is
  last-write-wins) but the registry's max streak and min last success over all active accounts of the
  bucket (`bucket_gauges`). Samples and gauge groups of the other mode (left when the fleet crossed the
  limit) are dropped from the shard group and deleted from the gateway, so no stale id group fires
  MonoNoSuccessfulSync26h later. The synthetic check's families (one configured account) keep the id.

Remaining race: the read-add-PUT of a shard group is not atomic. Two processes pushing the same group
within the same few milliseconds can lose one delta, and if the later writer wrote the smaller value
Prometheus sees one counter reset. It needs two runs of the same shard scope ending a step within the
same few milliseconds: the daily sync makes one run per shard per day, single-partition runs of a shard
are queued one at a time by dagster.yaml's `dagster/partition/shard` concurrency limit, so it takes
two overlapping multi-shard runs (`shard="multi"`), or a backfill/CLI run of a shard overlapping another
run of that shard, and the damage is bounded to one push of one group (one run's delta). Gauges have no
such race (a POST per account, last write wins, as for a scraped gauge).

The Pushgateway should run with `--persistence.file`: without it a restart drops every group, counters
restart from this process's next delta (Prometheus reads that as a reset) and unchanged gauges are only
re-pushed when they change. A Pushgateway that is down, slow or answering errors is logged as a warning
and never fails the run (`push_run_metrics` returns the outcome, it does not raise).
"""

from __future__ import annotations

import http.client
import logging
import os
import threading
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Metric,
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from mono_dagster.observability.metrics import (
    FAILURE_STREAK,
    FAILURE_STREAK_NAME,
    LAST_SUCCESS,
    LAST_SUCCESS_NAME,
    AccountLabelPolicy,
)

logger = logging.getLogger(__name__)

PUSHGATEWAY_URL_ENV: Final = "PROMETHEUS_PUSHGATEWAY_URL"
JOB: Final = "mono_pipeline"
SHARD_LABEL: Final = "shard"
ACCOUNT_LABEL: Final = "account_id"
MULTI_SHARD: Final = "multi"
# The synthetic check's metrics too: its job runs in its own process like a sync run, and the
# MonoSyntheticCheckStale alert reads its last-success gauge.
PUSHED_PREFIXES: Final = ("taxpoynt_mono_pipeline_", "taxpoynt_mono_client_", "taxpoynt_mono_synthetic_")
TIMEOUT_SECONDS: Final = 5.0
_CUMULATIVE_TYPES: Final = frozenset({"counter", "histogram", "summary"})
_FLOAT_LABELS: Final = frozenset({"le", "quantile"})
# One configured account (MONO_SYNTHETIC_ACCOUNT_ID), whatever the fleet size: never bucketed.
KEEP_ACCOUNT_ID_PREFIXES: Final = ("taxpoynt_mono_synthetic_",)
# Bucketed gauges: how the accounts of a bucket combine when the registry cannot be read.
_BUCKET_GAUGES: Final = {FAILURE_STREAK_NAME: max, LAST_SUCCESS_NAME: min}
_GAUGE_DOCS: Final = {
    FAILURE_STREAK_NAME: FAILURE_STREAK._documentation,
    LAST_SUCCESS_NAME: LAST_SUCCESS._documentation,
}

SampleKey = tuple[str, tuple[tuple[str, str], ...]]
# Bucket labels -> {gauge family name: {bucket label: value}}, from the account registry.
BucketGauges = Callable[[Collection[str]], Mapping[str, Mapping[str, float]]]


@dataclass(frozen=True)
class PushOutcome:
    ok: bool
    shard_group: str
    account_groups: int = 0
    error: str | None = None
    stale_groups_removed: int = 0


def shard_group(shard_keys: Iterable[str]) -> str:
    """The shard group of a run: its one shard key (`shard-03`), or `multi` for several (or none)."""
    unique = sorted(set(shard_keys))
    return unique[0] if len(unique) == 1 else MULTI_SHARD


def redact_url(url: str) -> str:
    """The URL without credentials, for log lines."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def _sample_key(name: str, labels: Mapping[str, str]) -> SampleKey:
    # The Pushgateway prints `le="2"` where prometheus_client prints `le="2.0"`: compare them as numbers.
    normal = {k: floatToGoString(float(v)) if k in _FLOAT_LABELS else v for k, v in labels.items()}
    return name, tuple(sorted(normal.items()))


def _family(name: str, documentation: str, typ: str, samples: Iterable[Sample]) -> Metric:
    family = Metric(name, documentation, typ)
    family.samples = [Sample(s.name, dict(s.labels), s.value) for s in samples]
    return family


def _pushed_families(registry: CollectorRegistry) -> list[Metric]:
    """This process's families to push, without `_created` samples (meaningless once cumulated)."""
    return [
        _family(f.name, f.documentation, f.type, (s for s in f.samples if not s.name.endswith("_created")))
        for f in registry.collect()
        if f.name.startswith(PUSHED_PREFIXES)
    ]


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def _registry_of(families: list[Metric]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return registry


def _relabel(families: list[Metric], policy: AccountLabelPolicy) -> list[Metric]:
    """`account_id` mapped through the policy: counters and histograms summed, gauges combined per bucket."""
    relabelled: list[Metric] = []
    for family in families:
        if family.name.startswith(KEEP_ACCOUNT_ID_PREFIXES):
            relabelled.append(family)
            continue
        combine = _BUCKET_GAUGES.get(family.name, max)
        values: dict[SampleKey, Sample] = {}
        for sample in family.samples:
            labels = dict(sample.labels)
            if ACCOUNT_LABEL in labels:
                labels[ACCOUNT_LABEL] = policy.label(labels[ACCOUNT_LABEL])
            key = _sample_key(sample.name, labels)
            if key in values:
                known = values[key].value
                value = known + sample.value if family.type in _CUMULATIVE_TYPES else combine(known, sample.value)
            else:
                value = sample.value
            values[key] = Sample(sample.name, labels, value)
        relabelled.append(_family(family.name, family.documentation, family.type, values.values()))
    return relabelled


def _with_registry_gauges(
    families: list[Metric], bucket_gauges: Mapping[str, Mapping[str, float]], touched: Collection[str]
) -> list[Metric]:
    """The bucketed streak and last-success families replaced by the registry's values for `touched`."""
    provider = next((s.labels["provider"] for f in families for s in f.samples if "provider" in s.labels), "mono")
    docs = {**_GAUGE_DOCS, **{f.name: f.documentation for f in families}}
    kept = [f for f in families if f.name not in _BUCKET_GAUGES]
    for name in _BUCKET_GAUGES:
        values = bucket_gauges.get(name, {})
        samples = [
            Sample(name, {"provider": provider, ACCOUNT_LABEL: label}, float(values[label]))
            for label in sorted(touched)
            if label in values
        ]
        kept.append(_family(name, docs[name], "gauge", samples))
    return kept


def _split_groups(
    families: Iterable[Metric], job: str
) -> tuple[dict[str, dict[str, Metric]], dict[str, dict[str, Metric]]]:
    """The gateway's families of `job` by group: (shard value -> families, account label -> families).

    The grouping labels `job`, `shard` and `instance` are taken off; an account group keeps its
    `account_id` (its samples carry it as a metric label too).
    """
    shards: dict[str, dict[str, Metric]] = defaultdict(dict)
    accounts: dict[str, dict[str, Metric]] = defaultdict(dict)
    for family in families:
        if family.type == "unknown":
            continue
        by_group: dict[tuple[str, str], list[Sample]] = defaultdict(list)
        for sample in family.samples:
            if sample.labels.get("job") != job or sample.name.endswith("_created"):
                continue
            labels = {k: v for k, v in sample.labels.items() if k not in ("job", "instance", SHARD_LABEL)}
            if SHARD_LABEL in sample.labels:
                by_group[(SHARD_LABEL, sample.labels[SHARD_LABEL])].append(Sample(sample.name, labels, sample.value))
            elif sample.labels.get(ACCOUNT_LABEL):
                by_group[(ACCOUNT_LABEL, sample.labels[ACCOUNT_LABEL])].append(
                    Sample(sample.name, labels, sample.value)
                )
        for (kind, value), samples in by_group.items():
            target = shards if kind == SHARD_LABEL else accounts
            target[value][family.name] = _family(family.name, family.documentation, family.type, samples)
    return shards, accounts


class MetricsPusher:
    """Pushes one registry to one Pushgateway, remembering what it already pushed there (one per process)."""

    def __init__(
        self,
        gateway_url: str,
        *,
        registry: CollectorRegistry = REGISTRY,
        job: str = JOB,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.gateway_url = gateway_url.rstrip("/") if "://" in gateway_url else f"http://{gateway_url.rstrip('/')}"
        self.job = job
        self.timeout = timeout
        self._registry = registry
        self._pushed: dict[SampleKey, float] = {}
        self._lock = threading.Lock()

    def push(
        self,
        group: str,
        *,
        labels: AccountLabelPolicy | None = None,
        bucket_gauges: BucketGauges | None = None,
    ) -> PushOutcome:
        """Pushes to the shard group `group` and the changed accounts' gauge groups; never raises.

        `labels`: how `account_id` is exported (None: as recorded, and nothing is cleaned up).
        `bucket_gauges`: reads the registry's per-bucket streak and last success when `labels` buckets.
        """
        with self._lock:
            try:
                accounts, removed = self._push(group, labels, bucket_gauges)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                error = f"{exc.__class__.__name__}: {exc}".replace(self.gateway_url, redact_url(self.gateway_url))
                logger.warning(
                    "could not push metrics to the Pushgateway at %s (group shard=%s): %s; the run goes on",
                    redact_url(self.gateway_url),
                    group,
                    error,
                )
                return PushOutcome(ok=False, shard_group=group, error=error)
        logger.debug(
            "pushed metrics to shard group %s and %d account group(s), removed %d stale group(s)",
            group,
            accounts,
            removed,
        )
        return PushOutcome(ok=True, shard_group=group, account_groups=accounts, stale_groups_removed=removed)

    def _push(
        self, group: str, labels: AccountLabelPolicy | None, bucket_gauges: BucketGauges | None
    ) -> tuple[int, int]:
        if urlsplit(self.gateway_url).scheme not in ("http", "https"):
            raise ValueError("the Pushgateway URL must be http:// or https://")
        local = _pushed_families(self._registry)
        if labels is not None:
            local = _relabel(local, labels)
            if labels.bucketed and bucket_gauges is not None:
                local = self._bucket_gauges_from_registry(local, bucket_gauges)
        grouping = {SHARD_LABEL: group}
        cumulative = [f for f in local if f.type in _CUMULATIVE_TYPES]
        gauges = [f for f in local if f.type not in _CUMULATIVE_TYPES]
        per_account = [f for f in gauges if any(ACCOUNT_LABEL in s.labels for s in f.samples)]
        in_group = [f for f in gauges if f not in per_account]
        shards, account_groups = _split_groups(self._read_gateway(), self.job)
        current = shards.get(group, {})
        if labels is not None:
            current = _without_stale(current, labels)
        merged = self._merge(current, cumulative, in_group)
        push_to_gateway(
            self.gateway_url, job=self.job, registry=_registry_of(merged), grouping_key=grouping, timeout=self.timeout
        )
        self._remember(f.samples for f in cumulative)
        changed = self._changed_account_gauges(per_account)
        for account, families in changed.items():
            pushadd_to_gateway(
                self.gateway_url,
                job=self.job,
                registry=_registry_of(families),
                grouping_key={ACCOUNT_LABEL: account},
                timeout=self.timeout,
            )
            self._remember(f.samples for f in families)
        removed = self._remove_stale_groups(account_groups, labels) if labels is not None else 0
        return len(changed), removed

    def _bucket_gauges_from_registry(self, local: list[Metric], bucket_gauges: BucketGauges) -> list[Metric]:
        """Bucketed: the touched buckets' streak and last success over all their accounts, from the registry."""
        touched = {
            s.labels[ACCOUNT_LABEL]
            for f in local
            if f.name in _BUCKET_GAUGES
            for s in f.samples
            if s.labels.get(ACCOUNT_LABEL)
        }
        if not touched:
            return local
        try:
            values = bucket_gauges(touched)
        except Exception as exc:  # the registry is down: this process's own accounts are the best it has
            logger.warning(
                "could not read the bucket gauges from the account registry (%s); pushing this run's own values",
                exc.__class__.__name__,
            )
            return local
        return _with_registry_gauges(local, values, touched)

    def _read_gateway(self) -> list[Metric]:
        """The gateway's families of this job's pushed metrics (every group)."""
        # The URL is the operator's http(s) Pushgateway setting, as push_to_gateway uses it.
        with urllib.request.urlopen(f"{self.gateway_url}/metrics", timeout=self.timeout) as response:  # noqa: S310
            text = response.read().decode("utf-8")
        job = f'job="{self.job}"'
        headers = tuple(f"# {kind} {prefix}" for kind in ("HELP", "TYPE") for prefix in PUSHED_PREFIXES)
        # Cheap line filter first (the gateway holds every job's groups); the parser and the label test decide.
        lines = [
            line
            for line in text.splitlines()
            if line.startswith(headers) or (line.startswith(PUSHED_PREFIXES) and job in line)
        ]
        return list(text_string_to_metric_families("\n".join(lines) + "\n"))

    def _remove_stale_groups(
        self, account_groups: Mapping[str, Mapping[str, Metric]], labels: AccountLabelPolicy
    ) -> int:
        """Deletes the gauge groups of the other labelling mode; families that keep the id are put back."""
        removed = 0
        for account, families in account_groups.items():
            if not labels.is_stale(account):
                continue
            keep = [f for name, f in families.items() if name.startswith(KEEP_ACCOUNT_ID_PREFIXES)]
            if len(keep) == len(families):
                continue  # only the synthetic check's families: they are never bucketed
            grouping = {ACCOUNT_LABEL: account}
            if keep:
                push_to_gateway(
                    self.gateway_url,
                    job=self.job,
                    registry=_registry_of(keep),
                    grouping_key=grouping,
                    timeout=self.timeout,
                )
            else:
                delete_from_gateway(self.gateway_url, job=self.job, grouping_key=grouping, timeout=self.timeout)
            removed += 1
        return removed

    def _merge(self, current: Mapping[str, Metric], cumulative: list[Metric], gauges: list[Metric]) -> list[Metric]:
        """The group's families after this push: gateway values + this process's unpushed deltas."""
        merged: dict[str, Metric] = {}
        for family in [*cumulative, *gauges]:
            known = current[family.name].samples if family.name in current else []
            values = {_sample_key(s.name, s.labels): s for s in known}
            for sample in family.samples:
                key = _sample_key(sample.name, sample.labels)
                if family.type in _CUMULATIVE_TYPES:
                    delta = max(0.0, sample.value - self._pushed.get(key, 0.0))
                    base = values[key].value if key in values else 0.0
                    values[key] = Sample(sample.name, dict(sample.labels), base + delta)
                else:
                    values[key] = sample
            merged[family.name] = _family(family.name, family.documentation, family.type, values.values())
        for name, family in current.items():  # families only other processes have pushed
            merged.setdefault(name, family)
        return list(merged.values())

    def _changed_account_gauges(self, families: list[Metric]) -> dict[str, list[Metric]]:
        """Per account label, every family with a sample changed since the last push (all its samples)."""
        changed: dict[str, list[Metric]] = defaultdict(list)
        for family in families:
            by_account: dict[str, list[Sample]] = defaultdict(list)
            for sample in family.samples:
                by_account[sample.labels.get(ACCOUNT_LABEL, "")].append(sample)
            for account, samples in by_account.items():
                if account and any(self._pushed.get(_sample_key(s.name, s.labels)) != s.value for s in samples):
                    changed[account].append(_family(family.name, family.documentation, family.type, samples))
        return changed

    def _remember(self, sample_lists: Iterable[Sequence[Sample]]) -> None:
        for samples in sample_lists:
            for sample in samples:
                self._pushed[_sample_key(sample.name, sample.labels)] = sample.value


def _without_stale(families: Mapping[str, Metric], labels: AccountLabelPolicy) -> dict[str, Metric]:
    """The shard group's families without samples labelled in the other mode (they would never grow again)."""
    kept: dict[str, Metric] = {}
    for name, family in families.items():
        if name.startswith(KEEP_ACCOUNT_ID_PREFIXES):
            kept[name] = family
            continue
        samples = [s for s in family.samples if not labels.is_stale(s.labels.get(ACCOUNT_LABEL, ""))]
        if samples:
            kept[name] = _family(family.name, family.documentation, family.type, samples)
    return kept


_pushers: dict[str, MetricsPusher] = {}
_pushers_lock = threading.Lock()


def pusher_for(gateway_url: str) -> MetricsPusher:
    """The process's pusher for this gateway: what was pushed is remembered per gateway."""
    with _pushers_lock:
        if gateway_url not in _pushers:
            _pushers[gateway_url] = MetricsPusher(gateway_url)
        return _pushers[gateway_url]


def gateway_url_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    url = (os.environ if environ is None else environ).get(PUSHGATEWAY_URL_ENV, "").strip()
    return url or None


def push_run_metrics(
    shard_keys: Sequence[str],
    environ: Mapping[str, str] | None = None,
    *,
    labels: AccountLabelPolicy | None = None,
    bucket_gauges: BucketGauges | None = None,
) -> PushOutcome | None:
    """Pushes to `PROMETHEUS_PUSHGATEWAY_URL` for a run over these shards; None when it is unset."""
    url = gateway_url_from_env(environ)
    if url is None:
        return None
    return pusher_for(url).push(shard_group(shard_keys), labels=labels, bucket_gauges=bucket_gauges)
