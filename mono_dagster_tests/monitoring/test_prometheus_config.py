"""`monitoring/prometheus.yml` is valid, loads the alert rules, and scrapes every process that exports metrics."""

from __future__ import annotations

import yaml

from mono_dagster_tests.monitoring.conftest import MONITORING, run_promtool

CONFIG = MONITORING / "prometheus.yml"


def test_promtool_accepts_the_config_and_its_rule_files(promtool):
    result = run_promtool(promtool, "check", "config", CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    assert "mono_pipeline_alerts.yml" in result.stdout + result.stderr


def test_the_pushgateway_keeps_pushed_labels_and_every_long_running_process_is_scraped():
    jobs = {job["job_name"]: job for job in yaml.safe_load(CONFIG.read_text())["scrape_configs"]}
    assert set(jobs) == {"pushgateway", "mono_code_location", "mono_webhooks", "mono_event_relay"}
    assert jobs["pushgateway"]["honor_labels"] is True
    assert not any(job.get("honor_labels") for name, job in jobs.items() if name != "pushgateway")
    assert jobs["mono_webhooks"]["static_configs"][0]["targets"] == ["127.0.0.1:8780"]
