"""`MONO_LOG_FORMAT=json`: every process loading the code location writes the `mono-pipeline` JSON stream,
and `dagster.yaml` makes the pipeline's loggers show in the run logs of the Dagster UI."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from mono_dagster.observability.logs import STREAM, install_json_logs, log_format_from_env
from mono_dagster.settings import SettingsError

REPO = Path(__file__).resolve().parents[2]
SECRET = "live_sk_q8Wm2ZrT0b6xY4nP"
ACCOUNT_NUMBER = "0131883461"
CORRELATION = "0f8a509b-6f5c-4edf-b209-426614174000"
RUN = "a1b2c3d4-0000-4000-8000-123456789012"
MONO_ID = "66141b98e3a4c50a1b2c3d4e"

# A process that loads the code location the way Dagster does, then logs what the sync logs on a failure.
LOAD_AND_LOG = f"""
import logging
import mono_dagster.definitions
context = {{"correlation_id": "{CORRELATION}", "run_id": "{RUN}", "account_id": "{MONO_ID}",
           "stage": "sync", "event": "mono.fetch.failed"}}
log = logging.getLogger("mono_dagster.pipeline.sync")
log.error("sync of account %s failed with key %s, number %s", "{MONO_ID}", "{SECRET}", "{ACCOUNT_NUMBER}",
          extra=context)
log.info("progress", extra=context)
try:
    raise RuntimeError("refused {SECRET} for {ACCOUNT_NUMBER}")
except RuntimeError:
    log.exception("failed", extra=context)
logging.getLogger("some.library").warning("not ours")
"""


def _load_and_log(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("MONO_", "DAGSTER_"))}
    environ |= {"DAGSTER_HOME": str(tmp_path), "MONO_DAGSTER_DB_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", **env}
    return subprocess.run(
        [sys.executable, "-c", LOAD_AND_LOG], cwd=REPO, env=environ, capture_output=True, text=True, timeout=120
    )


def test_with_mono_log_format_json_loading_the_code_location_writes_the_pipeline_stream(tmp_path):
    done = _load_and_log(tmp_path, MONO_LOG_FORMAT="json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [line["message"].split()[0] for line in lines] == ["sync", "progress", "failed"], done.stderr
    for line in lines:
        assert line["stream"] == STREAM and line["logger"] == "mono_dagster.pipeline.sync"
        assert line["correlation_id"] == CORRELATION and line["run_id"] == RUN and line["account_id"] == MONO_ID
        assert line["stage"] == "sync" and line["event"] == "mono.fetch.failed"
    assert "RuntimeError: refused [secret] for ******3461" in lines[2]["exception"]
    assert SECRET not in done.stderr and ACCOUNT_NUMBER not in done.stderr
    assert "not ours" not in "".join(line["message"] for line in lines), "only the pipeline's loggers"


def test_text_is_the_default_and_writes_no_json(tmp_path):
    done = _load_and_log(tmp_path)
    assert done.returncode == 0, done.stderr
    assert not [line for line in done.stderr.splitlines() if line.startswith("{")]
    assert SECRET not in done.stderr and ACCOUNT_NUMBER not in done.stderr


def test_an_unknown_log_format_is_refused_naming_the_variable():
    assert log_format_from_env({}) == "text"
    assert log_format_from_env({"MONO_LOG_FORMAT": "json"}) == "json"
    with pytest.raises(SettingsError, match="MONO_LOG_FORMAT"):
        log_format_from_env({"MONO_LOG_FORMAT": "xml"})


def test_installing_the_json_stream_is_idempotent_and_never_doubles_a_line(capsys):
    logger = logging.getLogger("mono_dagster.test_json_once")
    parent = logging.getLogger("mono_dagster.test_json_parent")
    child = logging.getLogger("mono_dagster.test_json_parent.child")
    try:
        assert install_json_logs("mono_dagster.test_json_once") is True
        assert install_json_logs("mono_dagster.test_json_once") is False
        assert install_json_logs("mono_dagster.test_json_parent") is True
        assert install_json_logs("mono_dagster.test_json_parent.child") is False, "its parent writes the stream"
        child.warning("once")
        assert capsys.readouterr().err.count('"message": "once"') == 1
    finally:
        for each in (logger, parent):
            each.handlers.clear()
            each.setLevel(logging.NOTSET)


@dg.op
def _logs_through_the_pipeline_logger() -> None:
    logging.getLogger("mono_dagster.pipeline.sync").warning("zero transactions for %s", ACCOUNT_NUMBER)


@dg.job
def _pipeline_logging_job() -> None:
    _logs_through_the_pipeline_logger()


def test_dagster_yaml_shows_the_pipeline_log_records_in_the_run_logs(tmp_path):
    """The production `python_logs` section, on an instance with default (SQLite) storage."""
    python_logs = yaml.safe_load((REPO / "dagster.yaml").read_text())["python_logs"]
    assert python_logs["managed_python_loggers"] == ["mono_dagster"]
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump({"python_logs": python_logs}))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        result = _pipeline_logging_job.execute_in_process(instance=instance)
        assert result.success
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("zero transactions for ******3461" in message for message in messages), messages
    assert not any(ACCOUNT_NUMBER in message for message in messages)
