"""The CLI's per-account integrity summary: grouped queries give each account its own figures."""

from __future__ import annotations

from mono_dagster.mono import DateWindow
from mono_dagster.pipeline.integrity import integrity_summary
from mono_dagster.sandbox import FaultPlan
from mono_dagster.storage.accounts import AccountRecord, register_accounts


def test_each_account_gets_its_own_fetched_persisted_quarantined_and_status(pipeline, last_days):
    start, end = last_days(3)
    accounts = pipeline.register()
    bad_account = accounts[1]
    served_bad = pipeline.sandbox.state.transactions(bad_account, start, end)
    pipeline.sandbox.state.set_fault_plan(FaultPlan(malformed={served_bad[0]["id"]: {"amount": -500}}))
    never_fetched = "0badacc0un7000000000cafe"
    with pipeline.engine.begin() as conn:
        register_accounts(conn, [AccountRecord(account_id=never_fetched)], 8)
    runs = pipeline.run(start, end, accounts)

    summary = {
        row.account_id: row
        for row in integrity_summary(
            pipeline.engine, [run.run_id for run in runs], [*accounts, never_fetched], DateWindow(start, end)
        )
    }

    for account in accounts:
        served = len(pipeline.sandbox.state.transactions(account, start, end))
        row = summary[account]
        quarantined = 1 if account == bad_account else 0
        assert (row.status, row.fetched, row.persisted, row.quarantined) == (
            "ok",
            served,
            served - quarantined,
            quarantined,
        )
        assert row.duplicates == 0 and row.balance_breaks == 0 and row.healthy
    assert summary[never_fetched].status == "not fetched" and summary[never_fetched].fetched == 0
