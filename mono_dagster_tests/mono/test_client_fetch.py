"""The client against the sandbox over real HTTP: shapes, paging quirks, windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mono_dagster.mono import DateWindow, MonoNotFoundError
from mono_dagster.sandbox import FaultPlan
from mono_dagster_tests.mono.conftest import ids


def window_of(sandbox, days: int = 10) -> DateWindow:
    end = sandbox.state.config.end_date or datetime.now(UTC).date()
    return DateWindow(end - timedelta(days=days - 1), end)


def test_fetch_returns_exactly_the_transactions_the_server_holds(sandbox, make_client):
    account = sandbox.state.account_ids()[0]
    window = window_of(sandbox)
    result = make_client(page_size=7).fetch_transactions(account, window)
    expected = sandbox.state.transactions(account, window.start, window.end)
    assert sorted(ids(result.transactions)) == sorted(ids(expected))
    assert len(result.transactions) == 10 * 5
    assert len(result.pages) == -(-50 // 7)
    assert result.requests == len(result.pages)
    assert result.retries == 0


def test_every_page_url_is_rebuilt_with_the_original_filters(sandbox, make_client):
    account = sandbox.state.account_ids()[0]
    window = window_of(sandbox)
    sandbox.state.reset_request_log()
    make_client(page_size=9).fetch_transactions(account, window)
    log = sandbox.state.request_log
    assert len(log) == 6
    for number, record in enumerate(log, start=1):
        assert record.path == f"/v2/accounts/{account}/transactions"
        assert record.query["start"] == window.start.strftime("%d-%m-%Y")
        assert record.query["end"] == window.end.strftime("%d-%m-%Y")
        assert record.query["limit"] == "9"
        assert record.query["page"] == str(number)


@pytest.mark.parametrize("shape", ["v2", "v1", "legacy"])
def test_all_three_response_shapes_give_the_same_transactions(sandbox, make_client, shape):
    account = sandbox.state.account_ids()[1]
    window = window_of(sandbox, 4)
    sandbox.state.set_fault_plan(FaultPlan(shape=shape))
    result = make_client(page_size=6).fetch_transactions(account, window)
    assert result.shapes == {shape}
    expected = sandbox.state.transactions(account, window.start, window.end)
    assert sorted(ids(result.transactions)) == sorted(ids(expected))


def test_an_empty_window_with_data_null_is_no_transactions(sandbox, make_client):
    account = sandbox.state.account_ids()[0]
    result = make_client().fetch_transactions(
        account, DateWindow(datetime(2001, 1, 1).date(), datetime(2001, 1, 31).date())
    )
    assert result.transactions == []
    assert len(result.pages) == 1
    assert result.total_reported is None


def test_a_transaction_repeated_across_two_pages_is_kept_once(sandbox, make_client):
    account = sandbox.state.account_ids()[0]
    window = window_of(sandbox)
    sandbox.state.set_fault_plan(FaultPlan(duplicate_across_pages=True))
    result = make_client(page_size=10).fetch_transactions(account, window)
    assert result.duplicates_dropped >= 1
    assert len(ids(result.transactions)) == len(set(ids(result.transactions)))
    expected = sandbox.state.transactions(account, window.start, window.end)
    assert sorted(ids(result.transactions)) == sorted(ids(expected))


def test_new_transactions_arriving_while_paging_restart_the_window_once(sandbox, make_client):
    account = sandbox.state.account_ids()[2]
    window = window_of(sandbox)
    sandbox.state.set_fault_plan(FaultPlan(new_transactions_while_paging=3))
    result = make_client(page_size=10).fetch_transactions(account, window)
    assert result.restarts == 1
    expected = sandbox.state.transactions(account, window.start, window.end)
    assert len(expected) == 53
    assert sorted(ids(result.transactions)) == sorted(ids(expected))


def test_unknown_account_raises_not_found_naming_account_window_and_mono_message(sandbox, make_client):
    window = window_of(sandbox, 2)
    sandbox.state.reset_request_log()
    with pytest.raises(MonoNotFoundError) as raised:
        make_client().fetch_transactions("0123456789abcdef01234567", window)
    message = str(raised.value)
    assert "0123456789abcdef01234567" in message
    assert str(window) in message
    assert "Account not found" in message
    assert raised.value.status_code == 404
    assert sandbox.state.request_count() == 1, "a 404 is never retried"


def test_list_accounts_pages_through_every_linked_account(sandbox, make_client):
    accounts = make_client().list_accounts(page_size=2)
    assert sorted(str(a.get("id") or a.get("_id")) for a in accounts) == sorted(sandbox.state.account_ids())


def test_get_account_reads_institution_currency_and_number(sandbox, make_client):
    account_id = sandbox.state.account_ids()[0]
    details = make_client().get_account(account_id)
    served = sandbox.state.account(account_id)
    assert details.account_id == account_id
    assert details.account_number == served["account_number"]
    assert details.institution == served["institution"]["name"]
    assert details.currency == "NGN"
