"""Balance continuity checked for many accounts at once gives each account's own answer (one account's
series never runs into the next one's)."""

from __future__ import annotations

from datetime import date

from mono_dagster.storage.balance_checks import balance_breaks, balance_breaks_by_account
from mono_dagster.storage.bank_transactions import persist_staged
from mono_dagster.storage.canonical_stage import stage_canonical
from mono_dagster_tests.storage.builders import NOW, canonical_frame, canonical_row, daily_rows

START, END = date(2024, 3, 1), date(2024, 3, 9)


def test_many_accounts_in_one_query_break_exactly_where_each_account_breaks(engine):
    broken = daily_rows("acc-broken", days=4)
    broken[2] = canonical_row(
        "acc-broken", broken[2]["provider_transaction_id"], posted_at=broken[2]["posted_at"], amount_minor=1_000,
        direction="credit", balance_after_minor=broken[2]["balance_after_minor"] + 500,
    )  # fmt: skip
    # A continuous account interleaved in time with the broken one: the series must not mix across accounts.
    rows = [*broken, *daily_rows("acc-fine", days=4, per_day=2), *daily_rows("acc-other", days=3)]
    with engine.begin() as conn:
        stage_canonical(conn, "run-1", canonical_frame(rows))
        persist_staged(conn, "run-1", correlation_id="c", complete_windows=[], now=NOW)
        together = balance_breaks_by_account(conn, ["acc-broken", "acc-fine", "acc-other", "acc-none"], START, END)
        one_by_one = {
            account: found
            for account in ("acc-broken", "acc-fine", "acc-other", "acc-none")
            if (found := balance_breaks(conn, account, START, END))
        }
    assert together == one_by_one
    assert [b.provider_transaction_id for b in together["acc-broken"]] == ["acc-broken-d002-00", "acc-broken-d003-00"]
