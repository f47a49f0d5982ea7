"""Opening the Dagster instance of `DAGSTER_HOME` one process at a time.

The first process to open an embedded (SQLite) instance creates its databases and runs Dagster's
migrations. Two backfills started at once on a fresh home both did, and left the schedule storage
with two `alembic_version` rows: both backfills succeeded, but every later open of the instance
(`dagster dev`, the next backfill) failed with "more than one head present". A lock file in the home
makes the second process wait until the first has finished creating it.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

LOCK_FILE = ".mono-dagster-instance.lock"


def open_instance() -> dg.DagsterInstance:
    """`DagsterInstance.get()`, with its creation serialised across processes sharing `DAGSTER_HOME`."""
    home = os.environ.get("DAGSTER_HOME")
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock to take
        return dg.DagsterInstance.get()
    if not home:
        return dg.DagsterInstance.get()
    with (Path(home) / LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held only while the storages are opened (and created)
        try:
            return dg.DagsterInstance.get()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
