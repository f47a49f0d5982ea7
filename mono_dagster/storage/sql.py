"""Small SQL helpers shared by the storage modules: the dialect's INSERT and bounded IN lists."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")

# Keeps every IN list well under SQLite's 32,766 and Postgres' 65,535 bind parameters.
IN_CHUNK = 1_000


def dialect_insert(conn: sa.Connection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """The INSERT with `ON CONFLICT` support for the connection's dialect (Postgres or SQLite)."""
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"storage supports Postgres and SQLite, not {name}")


def chunked(values: Iterable[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    chunk: list[T] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
