"""The account registry: stable shards, registration, status and failure-streak bookkeeping."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mono_dagster.storage.accounts import (
    AccountRecord,
    UnknownAccountError,
    list_accounts,
    mask_account_number,
    record_sync_failure,
    record_sync_success,
    register_accounts,
    set_account_status,
    shard_for,
)
from mono_dagster_tests.storage.builders import NOW


@given(account_id=st.text(min_size=1, max_size=40), shard_count=st.integers(min_value=1, max_value=256))
def test_shard_for_is_in_range_and_deterministic(account_id, shard_count):
    shard = shard_for(account_id, shard_count)
    assert 0 <= shard < shard_count
    assert shard_for(account_id, shard_count) == shard


def test_shard_for_is_stable_and_balanced():
    # Pinned values: a change here would silently move every account to another shard.
    assert [shard_for(f"acc-{i}", 8) for i in range(6)] == [1, 3, 1, 2, 7, 5]
    counts = Counter(shard_for(f"6{index:023x}", 8) for index in range(8_000))
    assert set(counts) == set(range(8))
    assert max(counts.values()) - min(counts.values()) < 200  # ~1,000 each


def test_shard_for_does_not_depend_on_the_process_hash_seed():
    code = "from mono_dagster.storage.accounts import shard_for; print(shard_for('60a1b2c3d4e5f6a7b8c9d0e1', 8))"
    results = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert results == {"3"}


def test_shard_count_must_be_positive():
    with pytest.raises(ValueError, match="shard_count"):
        shard_for("acc", 0)


def test_full_account_numbers_are_masked():
    assert mask_account_number("0123456789") == "******6789"
    assert mask_account_number("******6789") == "******6789"
    assert mask_account_number(None) is None
    assert mask_account_number("  ") is None


def test_registering_new_accounts_returns_them_active_on_their_shard(engine):
    with engine.begin() as conn:
        new = register_accounts(
            conn,
            [
                AccountRecord("acc-b", "GTBank", account_number_masked="0123456789"),
                AccountRecord("acc-a", "Access"),
            ],
            8,
            now=NOW,
        )
    assert new == ["acc-b", "acc-a"]
    with engine.connect() as conn:
        rows = list_accounts(conn)
    assert [row.account_id for row in rows] == ["acc-a", "acc-b"]
    assert rows[1].account_number_masked == "******6789"
    assert rows[1].shard == shard_for("acc-b", 8)
    assert rows[1].status == "active" and rows[1].failure_streak == 0 and rows[1].currency == "NGN"
    assert rows[1].created_at == NOW


def test_known_accounts_are_refreshed_but_keep_status_shard_and_streak(engine):
    with engine.begin() as conn:
        register_accounts(conn, [AccountRecord("acc-1", "GTBank"), AccountRecord("acc-2")], 8, now=NOW)
        set_account_status(conn, "acc-1", "paused")
        record_sync_failure(conn, "acc-1", "timeout", NOW)
    with engine.begin() as conn:
        new = register_accounts(
            conn,
            [AccountRecord("acc-1", "Guaranty Trust", currency="USD", account_number_masked="****4321")],
            4,
        )
    assert new == []
    with engine.connect() as conn:
        (row,) = list_accounts(conn, statuses=None, account_ids=["acc-1"])
    assert (row.institution, row.currency, row.account_number_masked) == ("Guaranty Trust", "USD", "****4321")
    assert (row.status, row.failure_streak, row.shard) == ("paused", 1, shard_for("acc-1", 8))


def test_unlinked_account_that_reappears_becomes_active(engine):
    with engine.begin() as conn:
        register_accounts(conn, [AccountRecord("acc-1")], 8)
        set_account_status(conn, "acc-1", "unlinked")
        assert list_accounts(conn) == []
        register_accounts(conn, [AccountRecord("acc-1")], 8)
        assert [row.status for row in list_accounts(conn)] == ["active"]


def test_listing_filters_by_shard_status_and_ids(engine):
    ids = [f"acc-{index:02d}" for index in range(20)]
    with engine.begin() as conn:
        register_accounts(conn, [AccountRecord(account_id) for account_id in ids], 4)
        set_account_status(conn, "acc-03", "paused")
    with engine.connect() as conn:
        for shard in range(4):
            listed = [row.account_id for row in list_accounts(conn, shard=shard)]
            assert listed == sorted(a for a in ids if shard_for(a, 4) == shard and a != "acc-03")
        assert [r.account_id for r in list_accounts(conn, statuses=("paused",))] == ["acc-03"]
        picked = list_accounts(conn, statuses=None, account_ids=["acc-05", "acc-03", "nope"])
        assert [row.account_id for row in picked] == ["acc-03", "acc-05"]
        assert len(list_accounts(conn, statuses=None)) == 20


def test_failures_build_a_streak_and_a_success_resets_it(engine):
    with engine.begin() as conn:
        register_accounts(conn, [AccountRecord("acc-1")], 8)
        streaks = [record_sync_failure(conn, "acc-1", f"HTTP 503 #{n}", NOW + timedelta(minutes=n)) for n in range(3)]
    assert streaks == [1, 2, 3]
    with engine.connect() as conn:
        (row,) = list_accounts(conn)
    assert row.last_error == "HTTP 503 #2" and row.last_attempt_at == NOW + timedelta(minutes=2)
    assert row.last_success_at is None
    with engine.begin() as conn:
        record_sync_success(conn, "acc-1", date(2024, 3, 1), date(2024, 3, 7), NOW + timedelta(hours=1))
    with engine.connect() as conn:
        (row,) = list_accounts(conn)
    assert row.failure_streak == 0 and row.last_error is None
    assert (row.last_successful_window_start, row.last_successful_window_end) == (
        date(2024, 3, 1),
        date(2024, 3, 7),
    )
    assert row.last_success_at == row.last_attempt_at == NOW + timedelta(hours=1)


def test_unknown_accounts_and_statuses_are_refused(engine):
    with engine.begin() as conn:
        with pytest.raises(UnknownAccountError):
            record_sync_failure(conn, "ghost", "boom", NOW)
        with pytest.raises(UnknownAccountError):
            record_sync_success(conn, "ghost", date(2024, 1, 1), date(2024, 1, 2), NOW)
        register_accounts(conn, [AccountRecord("acc-1")], 8)
        with pytest.raises(ValueError, match="status must be one of"):
            set_account_status(conn, "acc-1", "deleted")


def test_long_errors_are_truncated(engine):
    with engine.begin() as conn:
        register_accounts(conn, [AccountRecord("acc-1")], 8)
        record_sync_failure(conn, "acc-1", "x" * 10_000, NOW)
        (row,) = list_accounts(conn)
    assert len(row.last_error) == 2_000
