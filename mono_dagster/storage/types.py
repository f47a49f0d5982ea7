"""Column types that behave the same on SQLite and Postgres: UTC timestamps and exact money.

SQLite has no timezone-aware timestamp and no decimal type. Without these, a timestamp read back from
SQLite would be naive while Postgres returns an aware one, and money would come back as a float.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

_MONEY_QUANTUM = Decimal("0.0001")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC; naive datetimes are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"timestamp {value!r} has no timezone; pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        # SQLite's DATETIME keeps no offset: store UTC wall time and re-attach UTC when reading.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """NUMERIC(20, 4) returned as `Decimal` on both dialects.

    SQLite stores the value as a REAL; `repr` of a float is its shortest round-tripping decimal, so
    amounts of up to 15 significant digits come back exactly.
    """

    impl = Numeric(20, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            # asdecimal=False: we convert ourselves, and SQLAlchemy's float->Decimal warning stays quiet.
            return dialect.type_descriptor(Numeric(20, 4, asdecimal=False))
        return dialect.type_descriptor(Numeric(20, 4))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value.quantize(_MONEY_QUANTUM)
        return Decimal(repr(value)).quantize(_MONEY_QUANTUM)
