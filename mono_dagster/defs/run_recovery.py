"""Runs the command line launched and whose process died: marked failed, their pool slots freed, their
canonical stage cleared.

`mono-dagster backfill`/`resync` execute their runs inside the CLI process. When that process is
killed (SIGKILL, OOM, a lost machine), nothing is left to finish the run: Dagster keeps it STARTED for
ever, its partitions show "in progress" in the UI, and the pool slot its fetch step claimed stays
claimed, so a pool with a small limit blocks every later run. No daemon watches these runs (run
monitoring only sees runs a run launcher started), so the next CLI launch repairs them first.

A run is decidable only on the machine that launched it: each CLI run carries its launcher's host,
pid and process identity (boot id and start time, so a reused pid is not mistaken for the launcher).
A run of another host, or of a process still alive, is left alone.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from mono_dagster.storage.engine import DATABASE_URL_VARIABLE, create_db_engine, resolve_database_url
from mono_dagster.storage.stale_stage import clear_stages, staged_run_ids

log = logging.getLogger(__name__)

LAUNCHED_BY_TAG = "mono/launched_by"
CLI_LAUNCHER = "mono-dagster-cli"
HOST_TAG = "mono/launcher_host"
PID_TAG = "mono/launcher_pid"
PROCESS_TAG = "mono/launcher_process"  # "<boot id>:<start time in ticks>" on Linux, empty elsewhere

FINISHED_STATUSES = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
IN_PROGRESS_STATUSES = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def launcher_tags() -> dict[str, str]:
    """Tags that let a later launch decide whether this process is still running the run."""
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), PROCESS_TAG: process_identity(pid) or ""}


def process_identity(pid: int) -> str | None:
    """Boot id and start time of `pid` (unique across pid reuse and reboots); None when unknown."""
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields after its closing ")" are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    return f"{boot_id}:{fields[19]}"  # field 22 of stat: start time, clock ticks after boot


def launcher_alive(tags: Mapping[str, str]) -> bool | None:
    """Whether the run's launching process still runs; None when this host cannot tell."""
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return None
    pid = int(tags[PID_TAG])
    recorded = tags.get(PROCESS_TAG, "")
    if recorded:
        current = process_identity(pid)
        if current is not None or Path("/proc").is_dir():
            return current == recorded
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Marks the CLI's runs whose launcher is gone as failed, frees their pool slots and clears the
    canonical stage of every finished run; returns the ids of the runs it marked failed."""
    dead = [
        run
        for run in instance.get_runs(
            filters=dg.RunsFilter(statuses=IN_PROGRESS_STATUSES, tags={LAUNCHED_BY_TAG: CLI_LAUNCHER})
        )
        if launcher_alive(run.tags) is False
    ]
    for run in dead:
        instance.report_run_failed(
            run,
            message=(
                f"The process that ran this run (pid {run.tags[PID_TAG]} on {run.tags[HOST_TAG]}) is gone; "
                "marked failed by the next mono-dagster launch."
            ),
        )
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log.warning("run %s of a dead mono-dagster process was marked failed and its pool slots freed", run.run_id)
    _clear_finished_stages(instance)
    return [run.run_id for run in dead]


def _clear_finished_stages(instance: dg.DagsterInstance) -> None:
    """A finished run never persists its stage again (a rerun is a new run): its staged rows are garbage.

    The pipeline database is found as `DatabaseResource` finds it. Cleaning is best effort: a database
    not created yet, or not migrated, is left alone and the launch goes on.
    """
    engine = _existing_pipeline_database()
    if engine is None:
        return
    try:
        with engine.connect() as conn:
            staged = staged_run_ids(conn)
        finished = (
            [run.run_id for run in instance.get_runs(filters=dg.RunsFilter(run_ids=staged, statuses=FINISHED_STATUSES))]
            if staged
            else []
        )
        if finished:
            with engine.begin() as conn:
                cleared = clear_stages(conn, finished)
            log.info("cleared %d staged row(s) of %d finished run(s)", cleared, len(finished))
    except sa.exc.DBAPIError as exc:
        log.warning("left the canonical stage as it is (%s)", exc.__class__.__name__)


def _existing_pipeline_database() -> sa.Engine | None:
    if not (os.environ.get(DATABASE_URL_VARIABLE) or os.environ.get("DAGSTER_HOME")):
        return None  # no pipeline database configured for this process: nothing of ours to clean
    url = resolve_database_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).exists()):
        return None  # connecting would create an empty file
    return create_db_engine(url)
