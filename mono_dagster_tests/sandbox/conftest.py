"""Helpers for the sandbox tests: an httpx client with the right key, and balance/date checks."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest


@pytest.fixture()
def mono(sandbox) -> Iterator[httpx.Client]:
    """Talks to the sandbox as a Mono client would, with the current secret key."""
    with httpx.Client(base_url=sandbox.base_url, headers={"mono-sec-key": sandbox.state.secret_key}) as client:
        yield client


def mono_date(day: date) -> str:
    return day.strftime("%d-%m-%Y")


def last_days(sandbox, days: int) -> tuple[date, date]:
    end = sandbox.state.end_date
    return end - timedelta(days=days - 1), end


def assert_running_balances(newest_first: list[dict[str, Any]]) -> None:
    """Each balance is the previous one plus a credit or minus a debit, in date order."""
    oldest_first = list(reversed(newest_first))
    for before, after in itertools.pairwise(oldest_first):
        step = after["amount"] if after["type"] == "credit" else -after["amount"]
        assert after["balance"] == before["balance"] + step, (before, after)
        assert before["date"] <= after["date"]
