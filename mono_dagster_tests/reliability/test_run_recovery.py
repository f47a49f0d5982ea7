"""Deciding whether a CLI run's launcher is gone: a real live process, a real dead one, a reused pid and
another host; and what recovery does to a dead run on a real instance (failed, slot freed)."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg

from mono_dagster.defs.run_recovery import (
    CLI_LAUNCHER,
    HOST_TAG,
    LAUNCHED_BY_TAG,
    PID_TAG,
    PROCESS_TAG,
    launcher_alive,
    launcher_tags,
    process_identity,
    recover_dead_runs,
)


def dead_process_tags() -> dict[str, str]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    tags = {**launcher_tags(), PID_TAG: str(child.pid)}
    tags[PROCESS_TAG] = process_identity(child.pid) or ""
    assert launcher_alive(tags) is True
    child.kill()
    child.wait()
    return tags


def test_the_launchers_own_process_is_alive_and_a_killed_one_is_not():
    assert launcher_alive(launcher_tags()) is True
    assert launcher_alive(dead_process_tags()) is False


def test_a_reused_pid_is_not_the_launcher_and_another_host_is_undecided():
    mine = launcher_tags()
    assert launcher_alive({**mine, PROCESS_TAG: mine[PROCESS_TAG] + "0"}) is False  # same pid, other process
    assert launcher_alive({**mine, HOST_TAG: mine[HOST_TAG] + "-elsewhere"}) is None
    assert launcher_alive({LAUNCHED_BY_TAG: CLI_LAUNCHER}) is None  # a run from before the tags


def test_recovery_fails_only_the_dead_launchers_runs_and_frees_their_slots(tmp_path):
    (tmp_path / "dagster.yaml").write_text(
        "concurrency:\n  pools:\n    default_limit: 1\ntelemetry:\n  enabled: false\n"
    )
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        job = dg.GraphDefinition(name="noop", node_defs=[]).to_job()
        dead, alive = (
            instance.create_run_for_job(job, tags={LAUNCHED_BY_TAG: CLI_LAUNCHER, **tags}, status=status)
            for tags, status in (
                (dead_process_tags(), dg.DagsterRunStatus.STARTED),
                (launcher_tags(), dg.DagsterRunStatus.STARTED),
            )
        )
        instance.event_log_storage.initialize_concurrency_limit_to_default("mono_api")
        assert instance.event_log_storage.claim_concurrency_slot("mono_api", dead.run_id, "step").is_claimed
        saved = os.environ.pop("DAGSTER_HOME", None), os.environ.pop("MONO_DAGSTER_DB_URL", None)
        try:
            assert recover_dead_runs(instance) == [dead.run_id]
        finally:
            for name, value in zip(("DAGSTER_HOME", "MONO_DAGSTER_DB_URL"), saved, strict=True):
                if value is not None:
                    os.environ[name] = value
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_info("mono_api").claimed_slots == []
