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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from prometheus_client import REGISTRY, CollectorRegistry, Metric, push_to_gateway, pushadd_to_gateway
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

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

SampleKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class PushOutcome:
    ok: bool
    shard_group: str
    account_groups: int = 0
    error: str | None = None


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

    def push(self, group: str) -> PushOutcome:
        """Pushes to the shard group `group` and the changed accounts' gauge groups; never raises."""
        with self._lock:
            try:
                accounts = self._push(group)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                error = f"{exc.__class__.__name__}: {exc}".replace(self.gateway_url, redact_url(self.gateway_url))
                logger.warning(
                    "could not push metrics to the Pushgateway at %s (group shard=%s): %s; the run goes on",
                    redact_url(self.gateway_url),
                    group,
                    error,
                )
                return PushOutcome(ok=False, shard_group=group, error=error)
        logger.debug("pushed metrics to shard group %s and %d account group(s)", group, accounts)
        return PushOutcome(ok=True, shard_group=group, account_groups=accounts)

    def _push(self, group: str) -> int:
        if urlsplit(self.gateway_url).scheme not in ("http", "https"):
            raise ValueError("the Pushgateway URL must be http:// or https://")
        local = _pushed_families(self._registry)
        grouping = {SHARD_LABEL: group}
        cumulative = [f for f in local if f.type in _CUMULATIVE_TYPES]
        gauges = [f for f in local if f.type not in _CUMULATIVE_TYPES]
        per_account = [f for f in gauges if any(ACCOUNT_LABEL in s.labels for s in f.samples)]
        in_group = [f for f in gauges if f not in per_account]
        merged = self._merge(self._read_group(grouping), cumulative, in_group)
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
        return len(changed)

    def _read_group(self, grouping: Mapping[str, str]) -> dict[str, Metric]:
        """The group's current families, keyed by name, with the grouping labels taken off."""
        # The URL is the operator's http(s) Pushgateway setting, as push_to_gateway uses it.
        with urllib.request.urlopen(f"{self.gateway_url}/metrics", timeout=self.timeout) as response:  # noqa: S310
            text = response.read().decode("utf-8")
        wanted = {"job": self.job, **grouping}
        selectors = [f'{label}="{value}"' for label, value in wanted.items()]
        headers = tuple(f"# {kind} {prefix}" for kind in ("HELP", "TYPE") for prefix in PUSHED_PREFIXES)
        # Cheap line filter first (the gateway holds every group); the parser and the label test decide.
        lines = [
            line
            for line in text.splitlines()
            if line.startswith(headers) or (line.startswith(PUSHED_PREFIXES) and all(s in line for s in selectors))
        ]
        families: dict[str, Metric] = {}
        for family in text_string_to_metric_families("\n".join(lines) + "\n"):
            samples = [
                Sample(s.name, {k: v for k, v in s.labels.items() if k not in wanted and k != "instance"}, s.value)
                for s in family.samples
                if all(s.labels.get(label) == value for label, value in wanted.items())
                and not s.name.endswith("_created")
            ]
            if samples and family.type != "unknown":
                families[family.name] = _family(family.name, family.documentation, family.type, samples)
        return families

    def _merge(self, current: dict[str, Metric], cumulative: list[Metric], gauges: list[Metric]) -> list[Metric]:
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


def push_run_metrics(shard_keys: Sequence[str], environ: Mapping[str, str] | None = None) -> PushOutcome | None:
    """Pushes to `PROMETHEUS_PUSHGATEWAY_URL` for a run over these shards; None when it is unset."""
    url = gateway_url_from_env(environ)
    if url is None:
        return None
    return pusher_for(url).push(shard_group(shard_keys))
