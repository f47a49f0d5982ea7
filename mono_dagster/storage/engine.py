"""Where the pipeline's database is and how to connect to it: URL resolution and one engine per URL.

SQLite (the embedded default) is set up for several processes at once: WAL, foreign keys, a busy
timeout, and `BEGIN IMMEDIATE` transactions. Postgres (production) gets pre-ping on its pool.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

DATABASE_URL_VARIABLE = "MONO_DAGSTER_DB_URL"
SQLITE_FILE_NAME = "mono_dagster.sqlite"
DEFAULT_SQLITE_FOLDER = Path(".mono_dagster")
SQLITE_BUSY_TIMEOUT_MS = 30_000

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def resolve_database_url(environ: Mapping[str, str] = os.environ) -> str:
    """`MONO_DAGSTER_DB_URL`, else a SQLite file under `DAGSTER_HOME`, else under `./.mono_dagster`."""
    configured = environ.get(DATABASE_URL_VARIABLE, "").strip()
    if configured:
        return normalise_url(configured)
    dagster_home = environ.get("DAGSTER_HOME", "").strip()
    if dagster_home:
        return f"sqlite:///{Path(dagster_home) / SQLITE_FILE_NAME}"
    DEFAULT_SQLITE_FOLDER.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///./{DEFAULT_SQLITE_FOLDER / SQLITE_FILE_NAME}"


def normalise_url(url: str) -> str:
    """Plain `postgresql://` and Heroku-style `postgres://` URLs use psycopg 3, the driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def describe_url(url: str) -> str:
    """The URL with any password replaced by `***`, safe for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable database url>"


def create_db_engine(url: str) -> Engine:
    """One engine per URL per process: engines own connection pools and are meant to be shared."""
    url = normalise_url(url)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _build_engine(url)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Closes every cached engine's pooled connections (tests, and processes about to fork)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()


def _build_engine(url: str) -> Engine:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (it skips BEGIN before SELECT and DDL),
        # so every transaction below, DDL included, is atomic and rolls back completely.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then writes
        # fails at once with SQLITE_BUSY when another process wrote in between, busy_timeout or not.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
