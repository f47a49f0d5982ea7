"""The relay lease: at most one relay publishes at a time, so events leave in outbox order.

Why not `SELECT ... FOR UPDATE SKIP LOCKED` and many relays: a second relay would skip the rows the
first holds and publish later events of the same account before them. One relay at a time keeps the
order; a stand-by relay takes over when the holder dies.

- Postgres: a session advisory lock on a dedicated connection. It is released when the holder's
  connection ends (crash, kill, network loss), so a stand-by takes over without manual steps.
- SQLite (one machine): an exclusive `flock` on a file beside the database, released by the kernel
  when the process dies. An in-memory database has nothing to share and needs no lease.

If the holder loses its lease mid-batch (its database connection dropped) and a stand-by starts,
both publish in outbox order for a moment; a consumer that de-duplicates on the event id still
sees each event's first copy in order (each relay's sequence is increasing, so the earliest copy of
event n always precedes the earliest copy of event n+1).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Final

import sqlalchemy as sa

# "monorely" in ASCII, a 64-bit advisory lock key no other part of the project uses.
RELAY_LOCK_KEY: Final = 0x6D6F6E6F72656C79


class RelayLease:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._connection: sa.Connection | None = None
        self._file: IO[str] | None = None
        self._held = False

    def acquire(self) -> bool:
        """Takes the lease if it is free; never waits. True when this relay holds it."""
        if self._held:
            return self.still_held()
        if self._engine.dialect.name == "postgresql":
            connection = self._engine.connect()
            got = bool(connection.execute(sa.select(sa.func.pg_try_advisory_lock(RELAY_LOCK_KEY))).scalar_one())
            connection.commit()  # a session lock outlives the transaction that took it
            if not got:
                connection.close()
                return False
            self._connection = connection
        else:
            path = _sqlite_lock_path(self._engine)
            if path is not None:
                handle = path.open("a")
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    return False
                self._file = handle
        self._held = True
        return True

    def still_held(self) -> bool:
        """False when the lease's Postgres session ended (the lock went with it); the relay must stop."""
        if not self._held:
            return False
        if self._connection is None:
            return True
        try:
            self._connection.execute(sa.text("SELECT 1"))
            self._connection.commit()
            return True
        except sa.exc.DBAPIError:
            self.release()
            return False

    def release(self) -> None:
        self._held = False
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.execute(sa.select(sa.func.pg_advisory_unlock(RELAY_LOCK_KEY)))
                connection.commit()
            except sa.exc.DBAPIError:
                pass  # the session is gone, and the lock with it
            finally:
                connection.close()
        handle, self._file = self._file, None
        if handle is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


def _sqlite_lock_path(engine: sa.Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(os.path.abspath(database + ".relay.lock"))
