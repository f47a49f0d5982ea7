"""The alert rules are valid, their promtool unit tests pass, and they cover what the RFC asks for."""

from __future__ import annotations

import yaml

from mono_dagster_tests.monitoring.conftest import RULE_TESTS, RULES, run_promtool

EXPECTED_ALERTS = {
    "MonoStageLatencyP95High": "warning",
    "MonoFailureStreak": "critical",
    "MonoZeroTransactionsSpike": "warning",
    "MonoNoSuccessfulSync26h": "critical",
    "MonoPipelineErrorRateHigh": "warning",
    "MonoEventsUndelivered": "warning",
    "MonoSyntheticCheckStale": "warning",
}


def _rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_check_rules(promtool):
    result = run_promtool(promtool, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in result.stdout


def test_promtool_unit_tests_pass(promtool):
    result = run_promtool(promtool, "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_severity_annotations_and_a_runbook():
    rules = {rule["alert"]: rule for rule in _rules()}
    assert set(rules) == set(EXPECTED_ALERTS)
    for name, severity in EXPECTED_ALERTS.items():
        rule = rules[name]
        assert rule["labels"]["severity"] == severity, name
        assert 'provider="mono"' in rule["expr"], name
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(annotations), name
        assert annotations["runbook_url"] == f"docs/operations.md#{name.lower()}"


def test_every_alert_is_tested_firing_and_not_firing():
    firing: set[str] = set()
    silent: set[str] = set()
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case["exp_alerts"] else silent).add(case["alertname"])
            for alert in case["exp_alerts"]:
                assert alert["exp_labels"]["severity"] == EXPECTED_ALERTS[case["alertname"]]
                assert {"summary", "description", "runbook_url"} <= set(alert["exp_annotations"])
    assert firing == set(EXPECTED_ALERTS)
    assert silent == set(EXPECTED_ALERTS)
