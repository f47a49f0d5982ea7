"""Paths of the monitoring assets and the `promtool` binary (Debian's `prometheus` package).

promtool never goes missing silently: in CI (``CI`` set) a missing binary is a failure; elsewhere the
skip is printed loudly at the end of the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "monitoring"
RULES = MONITORING / "prometheus_rules" / "mono_pipeline_alerts.yml"
RULE_TESTS = MONITORING / "prometheus_rules" / "mono_pipeline_alerts_test.yml"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "mono_pipeline.json"


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool is not on PATH (apt-get install prometheus)"
        if _running_in_ci():
            pytest.fail(message + " (CI must run the Prometheus rule tests)")
        pytest.skip("SKIPPING PROMTOOL TESTS LOUDLY: " + message)
    return path


def run_promtool(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *map(str, args)], capture_output=True, text=True, timeout=120, check=False)
