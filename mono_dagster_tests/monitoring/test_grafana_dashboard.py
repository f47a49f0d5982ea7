"""The Grafana dashboard has a valid shape, its PromQL parses, and it and the rules only use exported metrics."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from prometheus_client import REGISTRY

# The code location imports every module that registers a metric (pipeline, client, event relay, ...),
# so what this test sees does not depend on which other tests ran first.
import mono_dagster.definitions  # noqa: F401
from mono_dagster_tests.monitoring.conftest import DASHBOARD, RULES, run_promtool

METRIC_NAME = re.compile(r"\btaxpoynt_[a-z_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
# Grafana's variables, replaced by something promtool can parse.
GRAFANA_VARIABLES = {"$account_id": ".*", "$__rate_interval": "5m"}


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _panels(dashboard: dict) -> list[dict]:
    """Every panel, including those nested in collapsed rows."""
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def _is_loki(panel_or_target: dict) -> bool:
    return (panel_or_target.get("datasource") or {}).get("type") == "loki"


def _dashboard_promql(dashboard: dict) -> list[str]:
    return [
        target["expr"]
        for panel in _panels(dashboard)
        if not _is_loki(panel)
        for target in panel.get("targets", [])
        if not _is_loki(target)
    ]


def _rule_promql() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def _exported_metrics() -> dict[str, str]:
    """Metric family name -> type, for everything the code registers.

    prometheus_client names a Counter's family without `_total`; its samples carry the suffix.
    """
    families = {}
    for family in REGISTRY.collect():
        name = family.name + "_total" if family.type == "counter" else family.name
        families[name] = family.type
    return families


def test_dashboard_shape():
    dashboard = _dashboard()
    assert dashboard["title"] == "Mono pipeline"
    assert dashboard["uid"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    panels = _panels(dashboard)
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        assert panel["title"], panel["id"]
        assert panel["type"], panel["id"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["id"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["id"]
        if panel["type"] not in ("text", "row"):
            assert panel["targets"], panel["id"]
            assert {target["refId"] for target in panel["targets"]} == {
                chr(ord("A") + i) for i in range(len(panel["targets"]))
            }, panel["id"]


def test_dashboard_variables():
    variables = {variable["name"]: variable for variable in _dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["loki"]["type"] == "datasource"
    assert variables["loki"]["query"] == "loki"
    account = variables["account_id"]
    assert account["type"] == "query"
    assert account["includeAll"] is True
    query = account["query"]["query"] if isinstance(account["query"], dict) else account["query"]
    assert query == 'label_values(taxpoynt_mono_pipeline_failure_streak{provider="mono"}, account_id)'


def test_dashboard_has_the_rfc_panels():
    panels = _panels(_dashboard())
    text = [panel for panel in panels if panel["type"] == "text"]
    assert len(text) == 1
    assert text[0]["options"]["mode"] == "markdown"
    assert "docs/operations.md" in text[0]["options"]["content"]
    logs = [panel for panel in panels if panel["type"] == "logs"]
    assert len(logs) == 1
    assert _is_loki(logs[0])
    assert logs[0]["targets"][0]["expr"] == '{stream="mono-pipeline"}'
    exprs = "\n".join(_dashboard_promql(_dashboard()))
    assert "histogram_quantile(0.95, sum by (le, stage) (rate(taxpoynt_mono_pipeline_stage_seconds_bucket" in exprs
    assert 'taxpoynt_mono_pipeline_failure_streak{provider="mono", account_id=~"$account_id"}' in exprs
    assert "increase(taxpoynt_mono_pipeline_zero_transactions_total" in exprs and "[1h]" in exprs
    assert "rate(taxpoynt_mono_pipeline_rows_ingested_total" in exprs
    assert "rate(taxpoynt_mono_pipeline_rows_quarantined_total" in exprs
    for panel in panels:
        for target in panel.get("targets", []):
            if not _is_loki(target):
                assert 'provider="mono"' in target["expr"], panel["title"]


def test_all_promql_parses(promtool, tmp_path):
    exprs = []
    for expr in _dashboard_promql(_dashboard()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"unsubstituted Grafana variable in {expr}"
        exprs.append(expr)
    exprs.extend(_rule_promql())
    records = [{"record": f"test:expr_{i}", "expr": expr} for i, expr in enumerate(exprs)]
    rules = {"groups": [{"name": "parse", "rules": records}]}
    path = tmp_path / "parse_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = run_promtool(promtool, "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_promql_check_catches_a_broken_expression(promtool, tmp_path):
    path = tmp_path / "broken.yml"
    broken = {"record": "test:broken", "expr": "sum(rate(x[5m])"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "broken", "rules": [broken]}]}))
    assert run_promtool(promtool, "check", "rules", path).returncode != 0


@pytest.mark.parametrize("source", ["dashboard", "rules"])
def test_referenced_metrics_are_exported(source):
    text = (DASHBOARD if source == "dashboard" else RULES).read_text()
    exported = _exported_metrics()
    referenced = set(METRIC_NAME.findall(text))
    assert referenced
    for name in sorted(referenced):
        if name in exported:
            continue
        base = next((name.removesuffix(s) for s in HISTOGRAM_SUFFIXES if name.endswith(s)), None)
        assert base is not None and exported.get(base) == "histogram", f"{name} is not exported by mono_dagster"
