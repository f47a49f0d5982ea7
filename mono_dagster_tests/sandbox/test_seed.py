"""The seeded data: deterministic, exactly `per_day` a day, Mono-shaped, consistent balances, quick."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta

import pytest

from mono_dagster.sandbox import SandboxConfig, SandboxState
from mono_dagster_tests.sandbox.conftest import assert_running_balances

HEX24 = re.compile(r"[0-9a-f]{24}")
MONO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
CATEGORIES = {
    "transfer",
    "bank_charges",
    "bills",
    "food",
    "online_transactions",
    "cash_withdrawal",
    "unknown",
    None,
}
FIXED = SandboxConfig(seed=7, accounts=3, days=30, per_day=5, end_date=date(2024, 3, 31))


def test_the_same_seed_gives_the_same_accounts_and_transactions():
    first, second = SandboxState(FIXED), SandboxState(FIXED)
    assert first.account_ids() == second.account_ids()
    for account_id in first.account_ids():
        assert first.transactions(account_id) == second.transactions(account_id)
        assert first.account(account_id) == second.account(account_id)


def test_another_seed_gives_other_ids():
    other = SandboxState(SandboxConfig(seed=8, accounts=3, days=30, per_day=5, end_date=FIXED.end_date))
    assert set(other.account_ids()).isdisjoint(SandboxState(FIXED).account_ids())


def test_adding_accounts_leaves_the_first_ones_unchanged():
    three = SandboxState(FIXED)
    five = SandboxState(SandboxConfig(seed=7, accounts=5, days=30, per_day=5, end_date=FIXED.end_date))
    assert five.account_ids()[:3] == three.account_ids()
    assert five.transactions(three.account_ids()[2]) == three.transactions(three.account_ids()[2])


def test_every_account_has_exactly_per_day_transactions_on_every_day_of_the_history():
    state = SandboxState(FIXED)
    expected_days = {(FIXED.end_date - timedelta(days=n)).isoformat() for n in range(30)}
    for account_id in state.account_ids():
        per_day = Counter(txn["date"][:10] for txn in state.transactions(account_id))
        assert set(per_day) == expected_days
        assert set(per_day.values()) == {5}


def test_transactions_look_like_mono_v2_objects():
    state = SandboxState(FIXED)
    for account_id in state.account_ids():
        transactions = state.transactions(account_id)
        assert len({txn["id"] for txn in transactions}) == len(transactions)
        for txn in transactions:
            assert list(txn) == ["id", "narration", "amount", "type", "balance", "date", "category"]
            assert HEX24.fullmatch(txn["id"])
            assert isinstance(txn["amount"], int) and txn["amount"] > 0
            assert txn["type"] in ("debit", "credit")
            assert MONO_DATE.fullmatch(txn["date"])
            assert txn["category"] in CATEGORIES
            if " AIRTIME VTU " not in txn["narration"]:  # airtime lines carry an 11-digit phone number
                assert not re.search(r"\d{10}", txn["narration"]), "no full account numbers in narrations"


def test_narrations_are_the_forms_nigerian_banks_print():
    state = SandboxState(FIXED)
    narrations = [txn["narration"] for a in state.account_ids() for txn in state.transactions(a)]
    prefixes = (
        "NIP/TRF",
        "POS PURCHASE @",
        "ATM WDL",
        "USSD TRANSFER",
        "SMS ALERT",
        "WEB PYMT",
        "TRF FROM",
        "STAMP DUTY",
        "NIP TRANSFER FEE",
        "REVERSAL POS",
    )
    assert all(n.startswith(prefixes) or " AIRTIME VTU " in n for n in narrations)
    assert {"NIP/TRF", "POS PURCHASE @", "ATM WDL"} <= {p for p in prefixes if any(n.startswith(p) for n in narrations)}


def test_running_balances_are_consistent_never_negative_and_end_at_the_account_balance():
    state = SandboxState(FIXED)
    for account_id in state.account_ids():
        transactions = state.transactions(account_id)
        assert_running_balances(transactions)
        assert min(txn["balance"] for txn in transactions) >= 0
        assert state.account(account_id)["balance"] == transactions[0]["balance"]


def test_accounts_have_mono_ids_ten_digit_numbers_and_real_banks():
    state = SandboxState(FIXED)
    for account_id in state.account_ids():
        account = state.account(account_id)
        assert HEX24.fullmatch(account_id)
        assert re.fullmatch(r"\d{10}", account["account_number"])
        assert re.fullmatch(r"\d{4}", account["bvn"])
        assert account["institution"]["type"] == "PERSONAL_BANKING"
        assert account["currency"] == "NGN"


def test_end_date_defaults_to_today_utc():
    state = SandboxState(SandboxConfig(accounts=1, days=2, per_day=1))
    assert state.transactions(state.account_ids()[0])[0]["date"][:10] == state.end_date.isoformat()


@pytest.mark.parametrize("bad", [{"days": 0}, {"accounts": -1}, {"per_day": -1}, {"shape": "v3"}, {"secret_key": ""}])
def test_a_bad_config_is_refused(bad):
    with pytest.raises(ValueError):
        SandboxConfig(**bad)


def test_a_benchmark_sized_history_is_seeded_for_every_account():
    # How fast it seeds is for the benchmarks to print (fleet_bench prints it), not for a test to assert.
    state = SandboxState(SandboxConfig(seed=1, accounts=5, days=365, per_day=50, end_date=date(2024, 12, 31)))
    assert sum(len(state.transactions(a, date(2024, 12, 31), None)) for a in state.account_ids()) == 5 * 50
