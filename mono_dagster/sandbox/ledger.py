"""One account's transactions in date order, with running balances kept consistent on every change.

Rows are Mono v2 transaction dicts sorted by their `date` string; every date has the same fixed-width
form, so string order is time order and a date window is two `bisect`s. Rows with the same date keep
arrival order (a later arrival is newer). Not thread-safe: `SandboxState` holds the lock.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from itertools import islice
from typing import Any


class Ledger:
    def __init__(self, opening_balance: int, rows: list[dict[str, Any]]) -> None:
        self.opening_balance = opening_balance
        self._rows = rows  # oldest first
        self._dates = [row["date"] for row in rows]
        self._by_id = {row["id"]: row for row in rows}

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, txn_id: object) -> bool:
        return txn_id in self._by_id

    @property
    def balance(self) -> int:
        """The balance after the newest transaction (the account's current balance)."""
        return self._rows[-1]["balance"] if self._rows else self.opening_balance

    def get(self, txn_id: str) -> dict[str, Any]:
        return self._by_id[txn_id]

    def between(self, start: dt.date | None, end: dt.date | None) -> list[dict[str, Any]]:
        """Live rows dated on `start`..`end` (inclusive UTC days; None = unbounded), oldest first."""
        start, end = _day(start), _day(end)
        low = bisect_left(self._dates, start.isoformat()) if start else 0
        # "YYYY-MM-DD" sorts before every time on that day, so the next day's prefix bounds `end`.
        high = bisect_left(self._dates, (end + dt.timedelta(days=1)).isoformat()) if end else len(self._rows)
        return self._rows[low:high]

    def insert(self, row: dict[str, Any]) -> None:
        if row["id"] in self._by_id:
            raise ValueError(f"transaction {row['id']} already exists")
        position = bisect_right(self._dates, row["date"])
        self._rows.insert(position, row)
        self._dates.insert(position, row["date"])
        self._by_id[row["id"]] = row
        self._rebalance(position)

    def remove(self, txn_id: str) -> dict[str, Any]:
        row = self._by_id.pop(txn_id)
        position = self._position(row)
        del self._rows[position]
        del self._dates[position]
        self._rebalance(position)
        return row

    def update(self, txn_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        row = self._by_id[txn_id]
        if "date" in changes and changes["date"] != row["date"]:
            self.remove(txn_id)
            row.update(changes)
            self.insert(row)  # a moved transaction arrives last among rows of its new date
        else:
            row.update(changes)
            self._rebalance(self._position(row))
        return row

    def _position(self, row: dict[str, Any]) -> int:
        position = bisect_left(self._dates, row["date"])
        while self._rows[position] is not row:
            position += 1
        return position

    def _rebalance(self, start: int) -> None:
        balance = self._rows[start - 1]["balance"] if start else self.opening_balance
        for row in islice(self._rows, start, None):
            balance = balance + row["amount"] if row["type"] == "credit" else balance - row["amount"]
            row["balance"] = balance


def _day(value: dt.date | None) -> dt.date | None:
    return value.date() if isinstance(value, dt.datetime) else value


def format_date(moment: dt.datetime) -> str:
    """Mono's date form: ISO-8601 UTC with milliseconds and `Z`. A naive datetime is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def parse_date(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def stored_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validated transaction fields in stored form (the date as Mono's string)."""
    checked = dict(fields)
    if "date" in checked:
        value = checked["date"]
        moment = parse_date(value) if isinstance(value, str) else value
        if not isinstance(moment, dt.datetime):
            raise ValueError(f"date must be a datetime or an ISO-8601 string, not {value!r}")
        checked["date"] = format_date(moment)
    if "amount" in checked:
        amount = checked["amount"]
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError(f"amount must be a positive integer in kobo, not {amount!r}")
    if "type" in checked and checked["type"] not in ("debit", "credit"):
        raise ValueError(f"type must be debit or credit, not {checked['type']!r}")
    if "narration" in checked and not isinstance(checked["narration"], str):
        raise ValueError("narration must be a string")
    if "category" in checked and checked["category"] is not None and not isinstance(checked["category"], str):
        raise ValueError("category must be a string or null")
    return checked
