"""Property-based tests of the pagination invariants.

A tiny model of Mono's paging (a list served in pages, with optional repeats across pages and a
`next` link that carries only the page number) drives `walk_window`; a second property runs the same
invariants against the sandbox over real HTTP.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mono_dagster.mono import DateWindow, MonoPaginationError
from mono_dagster.mono.pagination import walk_window
from mono_dagster.mono.responses import MonoPage, parse_transactions_page
from mono_dagster.sandbox import FaultPlan
from mono_dagster_tests.mono.conftest import ids


def serve(items: list[str], page_size: int, repeat_boundaries: bool):
    calls: list[int] = []

    def fetch(page_number: int) -> MonoPage:
        calls.append(page_number)
        chunk = items[(page_number - 1) * page_size : page_number * page_size]
        if repeat_boundaries and page_number > 1 and chunk:
            chunk = [items[(page_number - 1) * page_size - 1], *chunk]
        has_next = page_number * page_size < len(items)
        body = json.dumps(
            {
                "data": [{"id": item} for item in chunk] or None,
                "meta": {
                    "total": len(items),
                    "page": page_number,
                    "next": f"https://api.withmono.com/v2/x/transactions?page={page_number + 1}" if has_next else None,
                },
            }
        )
        return parse_transactions_page(body)

    return fetch, calls


@given(
    count=st.integers(min_value=0, max_value=400),
    page_size=st.integers(min_value=1, max_value=60),
    repeat_boundaries=st.booleans(),
)
def test_walk_returns_every_item_once_in_order_with_one_request_per_page(count, page_size, repeat_boundaries):
    items = [f"{n:024x}" for n in range(count)]
    fetch, calls = serve(items, page_size, repeat_boundaries)
    walk = walk_window(fetch, page_size=page_size)
    assert [t["id"] for t in walk.transactions] == items
    assert calls == list(range(1, max(1, math.ceil(count / page_size)) + 1))
    assert walk.duplicates_dropped == (len(calls) - 1 if repeat_boundaries and count else 0)
    assert len(walk.page_of_transaction) == len(walk.transactions)


@given(stuck_at=st.integers(min_value=1, max_value=5))
def test_a_next_link_that_does_not_advance_is_refused(stuck_at):
    def fetch(page_number: int) -> MonoPage:
        body = {
            "data": [{"id": f"{page_number}-{n}"} for n in range(2)],
            "meta": {"total": 1000, "page": page_number, "next": f"x?page={min(page_number + 1, stuck_at)}"},
        }
        return parse_transactions_page(json.dumps(body))

    with pytest.raises(MonoPaginationError, match="does not come after"):
        walk_window(fetch, page_size=2)


def test_a_server_that_never_stops_paging_is_refused():
    def fetch(page_number: int) -> MonoPage:
        body = {
            "data": [{"id": f"{page_number}-{n}"} for n in range(2)],
            "meta": {"total": 6, "page": page_number, "next": f"x?page={page_number + 1}"},
        }
        return parse_transactions_page(json.dumps(body))

    with pytest.raises(MonoPaginationError, match="endless"):
        walk_window(fetch, page_size=2)


def test_total_changing_on_every_walk_is_an_error_after_one_restart():
    walks = {"n": 0}

    def fetch(page_number: int) -> MonoPage:
        walks["n"] += 1
        body = {
            "data": [{"id": f"{walks['n']}-{page_number}"}],
            "meta": {"total": 10 + walks["n"], "page": page_number, "next": f"x?page={page_number + 1}"},
        }
        return parse_transactions_page(json.dumps(body))

    with pytest.raises(MonoPaginationError, match="kept changing"):
        walk_window(fetch, page_size=1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    page_size=st.integers(min_value=1, max_value=40),
    days=st.integers(min_value=1, max_value=30),
    duplicate=st.booleans(),
    account_index=st.integers(min_value=0, max_value=2),
)
def test_sandbox_walks_match_the_server_for_any_page_size_and_window(
    sandbox, make_client, page_size, days, duplicate, account_index
):
    account = sandbox.state.account_ids()[account_index]
    end = sandbox.state.config.end_date or datetime.now(UTC).date()
    window = DateWindow(end - timedelta(days=days - 1), end)
    sandbox.state.set_fault_plan(FaultPlan(duplicate_across_pages=duplicate))
    result = make_client(page_size=page_size).fetch_transactions(account, window)
    expected = ids(sandbox.state.transactions(account, window.start, window.end))
    assert sorted(ids(result.transactions)) == sorted(expected)
    assert len(set(ids(result.transactions))) == len(result.transactions)
    assert result.requests == len(result.pages) == max(1, math.ceil(len(expected) / page_size))
