"""The whole pipeline through Dagster, against the sandbox over HTTP, on SQLite and on Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from mono_dagster.defs import names
from mono_dagster.sandbox import FaultPlan
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import AccountRecord, register_accounts
from mono_dagster.storage.tables import mono_accounts, pipeline_events, quarantined_transactions


def keys(rows):
    return {(row["account_id"], row["provider_transaction_id"]) for row in rows}


def test_backfill_persists_exactly_the_transactions_the_sandbox_holds(pipeline, last_days):
    start, end = last_days(10)
    pipeline.register()
    runs = pipeline.run(start, end)
    assert all(run.success for run in runs), [run.error for run in runs]
    assert all(check.passed for run in runs for check in run.checks)
    persisted = pipeline.persisted()
    assert keys(persisted) == pipeline.served(start, end)
    assert len(persisted) == 3 * 10 * 5
    row = persisted[0]
    assert row["provider"] == "mono" and row["account_number_masked"].startswith("******")
    assert row["amount_minor"] > 0 and row["direction"] in {"debit", "credit"}


def test_rerunning_a_partition_changes_nothing(pipeline, last_days):
    start, end = last_days(5)
    pipeline.register()
    pipeline.run(start, end)
    before = pipeline.persisted()
    with pipeline.engine.connect() as conn:
        accounts_before = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(
                    mono_accounts.c.account_id,
                    mono_accounts.c.failure_streak,
                    mono_accounts.c.last_successful_window_end,
                )
            )
        ]
    runs = pipeline.run(start, end)
    assert all(run.success for run in runs)
    assert pipeline.persisted() == before
    with pipeline.engine.connect() as conn:
        accounts_after = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(
                    mono_accounts.c.account_id,
                    mono_accounts.c.failure_streak,
                    mono_accounts.c.last_successful_window_end,
                )
            )
        ]
        ingested = conn.execute(
            sa.select(sa.func.count()).where(pipeline_events.c.event_name == "bank.transactions.ingested")
        ).scalar_one()
    assert accounts_after == accounts_before
    assert ingested == len(runs), "a rerun that changed nothing announces no ingestion"


def test_resync_after_the_sandbox_changed_added_and_removed_transactions(pipeline, last_days):
    start, end = last_days(7)
    account = pipeline.sandbox.state.account_ids()[0]
    pipeline.register()
    pipeline.run(start, end)
    served = pipeline.sandbox.state.transactions(account, start, end)
    changed, removed = served[3], served[10]
    pipeline.sandbox.state.update_transaction(account, changed["id"], narration="POS PURCHASE @ SPAR IKEJA (REVERSED)")
    pipeline.sandbox.state.remove_transaction(account, removed["id"])
    added = pipeline.sandbox.state.add_transaction(
        account,
        date=datetime.combine(end, datetime.min.time(), UTC) + timedelta(hours=12),
        amount=12_345,
        type="credit",
        narration="NIP/TRF FROM TAXPOYNT TEST/GTB",
    )
    runs = pipeline.run(start, end, [account], only=True)
    assert all(run.success for run in runs)
    rows = {row["provider_transaction_id"]: row for row in pipeline.persisted() if row["account_id"] == account}
    assert rows[changed["id"]]["narration"] == "POS PURCHASE @ SPAR IKEJA (REVERSED)"
    assert rows[changed["id"]]["change_count"] == 1
    assert rows[added["id"]]["amount_minor"] == 12_345
    assert rows[removed["id"]]["missing_fetch_count"] == 1 and rows[removed["id"]]["vanished_at"] is None
    pipeline.run(start, end, [account], only=True)
    rows = {row["provider_transaction_id"]: row for row in pipeline.persisted() if row["account_id"] == account}
    assert rows[removed["id"]]["vanished_at"] is not None, "missing from two complete fetches: flagged, kept"
    other_accounts = [row for row in pipeline.persisted() if row["account_id"] != account]
    assert all(row["change_count"] == 0 and row["missing_fetch_count"] == 0 for row in other_accounts)


def test_a_resync_fetches_only_the_accounts_it_names(pipeline, last_days):
    start, end = last_days(3)
    account = pipeline.sandbox.state.account_ids()[1]
    pipeline.register()
    pipeline.sandbox.state.reset_request_log()
    pipeline.run(start, end, [account], only=True)
    paths = {record.path for record in pipeline.sandbox.state.request_log}
    assert paths == {f"/v2/accounts/{account}/transactions"}


def test_bad_rows_are_quarantined_with_a_reason_never_dropped(pipeline, last_days):
    start, end = last_days(4)
    account = pipeline.sandbox.state.account_ids()[2]
    served = pipeline.sandbox.state.transactions(account, start, end)
    pipeline.sandbox.state.set_fault_plan(
        FaultPlan(malformed={served[0]["id"]: {"amount": -500}, served[1]["id"]: {"type": "refund"}})
    )
    pipeline.register()
    runs = pipeline.run(start, end)
    reconciliation = [c for run in runs for c in run.checks if c.check == names.RECONCILIATION_CHECK]
    assert reconciliation and all(check.passed for check in reconciliation)
    with pipeline.engine.connect() as conn:
        quarantined = {r.provider_transaction_id: r.reason for r in conn.execute(sa.select(quarantined_transactions))}
    assert set(quarantined) == {served[0]["id"], served[1]["id"]}
    assert "amount" in quarantined[served[0]["id"]] and "type" in quarantined[served[1]["id"]]
    assert keys(pipeline.persisted()) == pipeline.served(start, end) - {
        (account, served[0]["id"]),
        (account, served[1]["id"]),
    }
    pipeline.run(start, end)
    with pipeline.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(quarantined_transactions)).scalar_one() == 2


def test_every_mono_shape_persists_the_same_records(pipeline, last_days):
    start, end = last_days(3)
    pipeline.register()
    results = {}
    for shape in ("legacy", "v1", "v2"):
        pipeline.sandbox.state.set_fault_plan(FaultPlan(shape=shape))
        assert all(run.success for run in pipeline.run(start, end))
        results[shape] = {
            (r["account_id"], r["provider_transaction_id"], r["amount_minor"], r["posted_at"])
            for r in pipeline.persisted()
        }
    assert results["legacy"] == results["v1"] == results["v2"]
    assert len(results["v2"]) == 3 * 3 * 5


def test_backfill_is_exact_when_a_quarter_of_mono_answers_are_faults(pipeline, last_days):
    start, end = last_days(20)
    pipeline.register()
    pipeline.use_page_size(10)
    pipeline.sandbox.state.set_fault_plan(FaultPlan(seed=5, rate=0.25, slow_seconds=0.05, retry_after_seconds=1))
    runs = pipeline.run(start, end)
    assert all(run.success for run in runs), [run.error for run in runs]
    assert keys(pipeline.persisted()) == pipeline.served(start, end)
    assert sum(1 for record in pipeline.sandbox.state.request_log if record.fault) > 0


def test_one_failing_account_does_not_stop_the_others_and_fails_the_run(pipeline, last_days):
    start, end = last_days(3)
    healthy = pipeline.register()
    # An account Mono no longer knows (as after an unlink): every fetch of it answers 404.
    broken = "0badacc0un7000000000dead"
    with pipeline.engine.begin() as conn:
        register_accounts(conn, [AccountRecord(account_id=broken)], Settings.from_env().shard_count)
    runs = pipeline.run(start, end, [*healthy, broken])
    failed = [run for run in runs if not run.success]
    assert len(failed) == 1, "the broken account's shard ends failed so a retry re-runs it"
    assert any(c.check == names.ACCOUNTS_SYNCED_CHECK and not c.passed for c in failed[0].checks)
    assert keys(pipeline.persisted()) == pipeline.served(start, end, healthy)
    with pipeline.engine.connect() as conn:
        streak = conn.execute(
            sa.select(mono_accounts.c.failure_streak).where(mono_accounts.c.account_id == broken)
        ).scalar_one()
        failures = (
            conn.execute(
                sa.select(pipeline_events.c.account_id).where(pipeline_events.c.event_name == "mono.fetch.failed")
            )
            .scalars()
            .all()
        )
    assert streak == 1
    assert failures == [broken]
