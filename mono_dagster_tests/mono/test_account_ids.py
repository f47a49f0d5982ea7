"""The account id rule (`mono/account_ids.py`) and the client refusing what breaks it before any request."""

from __future__ import annotations

from datetime import date

import pytest

from mono_dagster.mono import DateWindow, MonoRequestError
from mono_dagster.mono.account_ids import (
    InvalidAccountIdError,
    is_valid_account_id,
    validate_account_id,
    validate_account_ids,
)
from mono_dagster.observability.scrub import find_leaks

# Values an operator (or a hostile caller) could pass where a Mono account id belongs.
HOSTILE = {
    "dot-dot path": "../x",
    "query": "a?b",
    "fragment": "a#b",
    "slash": "a/b",
    "percent escape": "%2e%2e",
    "single quote": "a'b",
    "double quote": 'a"b',
    "500 characters": "a" * 500,
    "65 characters": "a" * 65,
    "empty": "",
    "whitespace": "   ",
    "inner space": "a b",
    "trailing newline": "3caeb363771c76554d9d62f6\n",
    "non-ascii": "caf\u00e9",
}
# argv cannot carry NUL (execve's strings end at it): NUL is tested below the command line only.
IN_PROCESS_ONLY = {"NUL": "a\x00b"}
ALL_HOSTILE = {**HOSTILE, **IN_PROCESS_ONLY}


def test_mono_ids_and_the_registry_ids_used_so_far_are_accepted(sandbox):
    for account_id in [*sandbox.state.account_ids(), "6512a4f0c3d2b1a09f8e7d6c", "acc-1", "acct_synthetic", "a" * 64]:
        assert validate_account_id(account_id) == account_id


@pytest.mark.parametrize("value", list(ALL_HOSTILE.values()), ids=list(ALL_HOSTILE))
def test_a_hostile_value_is_refused_with_one_bounded_line(value):
    assert not is_valid_account_id(value)
    with pytest.raises(InvalidAccountIdError) as raised:
        validate_account_id(value)
    message = str(raised.value)
    assert "\n" not in message and "\x00" not in message and len(message) < 200, message
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, MonoRequestError)


def test_the_message_names_the_value_without_leaking_a_full_number():
    with pytest.raises(InvalidAccountIdError) as raised:
        validate_account_id("0123456789 ")  # an account number pasted with a space
    assert "******6789" in str(raised.value) and not find_leaks(str(raised.value))
    with pytest.raises(InvalidAccountIdError, match="an empty value"):
        validate_account_id("")
    with pytest.raises(InvalidAccountIdError, match=r"\(500 characters\)"):
        validate_account_id("x" * 500)
    with pytest.raises(InvalidAccountIdError, match="a NoneType"):
        validate_account_id(None)


def test_several_ids_are_checked_in_order_and_kept_once():
    assert validate_account_ids(["b1", "a2", "b1"]) == ("b1", "a2")
    with pytest.raises(InvalidAccountIdError, match=r"'\.\./x'"):
        validate_account_ids(["b1", "../x", "a?b"])


@pytest.mark.parametrize("value", list(ALL_HOSTILE.values()), ids=list(ALL_HOSTILE))
def test_the_client_refuses_a_hostile_id_before_building_a_url(sandbox, make_client, value):
    client = make_client()
    sandbox.state.reset_request_log()
    with pytest.raises(InvalidAccountIdError):
        client.get_account(value)
    with pytest.raises(InvalidAccountIdError):
        client.fetch_transactions(value, DateWindow(date(2026, 10, 1), date(2026, 10, 14)))
    assert sandbox.state.request_count() == 0 and client.stats.requests == 0
