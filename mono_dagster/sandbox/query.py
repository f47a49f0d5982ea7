"""Reads the query string of Mono's list endpoints into typed values, or a 400 naming the parameter.

Mono documents `start`/`end` as DD-MM-YYYY (mono_api.md §1.2); anything else is refused, as is a start
after the end. `limit` has no maximum (Mono documents none); `paginate` defaults to true.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_LIMIT = 20
_MONO_DATE = re.compile(r"\d{2}-\d{2}-\d{4}")


class BadParameter(ValueError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class TransactionQuery:
    start: dt.date | None = None
    end: dt.date | None = None
    page: int = 1
    limit: int = DEFAULT_LIMIT
    paginate: bool = True
    type: str | None = None
    narration: str | None = None


def parse_transactions_query(params: Mapping[str, str]) -> TransactionQuery:
    start = _date(params, "start")
    end = _date(params, "end")
    if start and end and start > end:
        raise BadParameter("start", "start date cannot be after end date")
    kind = _text(params, "type")
    if kind is not None:
        kind = kind.lower()
        if kind not in ("debit", "credit"):
            raise BadParameter("type", f"Invalid type '{params['type']}', type must be either debit or credit")
    page, limit = parse_paging(params)
    return TransactionQuery(
        start=start,
        end=end,
        page=page,
        limit=limit,
        paginate=_flag(params, "paginate", default=True),
        type=kind,
        narration=_text(params, "narration"),
    )


def parse_paging(params: Mapping[str, str]) -> tuple[int, int]:
    return _positive(params, "page", 1), _positive(params, "limit", DEFAULT_LIMIT)


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    return value if value else None  # an empty parameter counts as absent


def _date(params: Mapping[str, str], name: str) -> dt.date | None:
    value = _text(params, name)
    if value is None:
        return None
    try:
        if not _MONO_DATE.fullmatch(value):
            raise ValueError
        return dt.datetime.strptime(value, "%d-%m-%Y").date()
    except ValueError:
        raise BadParameter(name, f"Invalid {name} date '{value}', expected format DD-MM-YYYY") from None


def _positive(params: Mapping[str, str], name: str, default: int) -> int:
    value = _text(params, name)
    if value is None:
        return default
    if not value.isdecimal() or int(value) < 1:
        raise BadParameter(name, f"Invalid {name} '{value}', {name} must be a positive integer")
    return int(value)


def _flag(params: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = _text(params, name)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise BadParameter(name, f"Invalid {name} '{value}', {name} must be true or false")
    return value.lower() == "true"
