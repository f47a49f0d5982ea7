"""The overlapped sync step: fetching in a worker thread while earlier accounts are canonicalised and staged.

What must hold on the new path: a worker error is the step's error (naming account and window); an
exception in the middle of the step persists nothing; the accounts a batch committed count as synced
with their staged rows, so a retry of the rest lands every transaction exactly once.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from mono_dagster.mono import DateWindow
from mono_dagster.pipeline.canonicalize import CanonicalSummary
from mono_dagster.pipeline.fetch_worker import FetchWorkerError
from mono_dagster.pipeline.persist import persist_run
from mono_dagster.pipeline.reconcile import reconcile_run
from mono_dagster.pipeline.sync import RunIdentity, sync_accounts
from mono_dagster.storage.accounts import list_accounts
from mono_dagster.storage.canonical_stage import rows_in_stage, staged_count
from mono_dagster.storage.fetch_log import successful_fetches
from mono_dagster.storage.tables import mono_accounts, mono_fetches, mono_raw_pages, pipeline_events
from mono_dagster.transform import SchemaReport


class InjectedCrash(RuntimeError):
    pass


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def fetch_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "mono-fetch" and thread.is_alive()]


def test_an_error_in_the_fetch_worker_is_the_steps_error_naming_account_and_window(pipeline, last_days):
    start, end = last_days(2)
    pipeline.register()
    with pipeline.engine.connect() as conn:
        accounts = list_accounts(conn)
    window = DateWindow(start, end)
    client = pipeline.client()
    client.close()  # every request now raises inside the worker, and not as a Mono error

    with pytest.raises(FetchWorkerError) as caught:
        sync_accounts(client, pipeline.engine, accounts, window, RunIdentity("run-worker-error", "corr"))

    assert caught.value.account_id == accounts[0].account_id
    assert accounts[0].account_id in str(caught.value) and str(window) in str(caught.value)
    assert not fetch_threads(), "the worker ended with the step"
    assert count(pipeline.engine, mono_raw_pages) == count(pipeline.engine, mono_fetches) == 0
    assert count(pipeline.engine, pipeline_events) == 0


def test_an_exception_mid_step_persists_nothing_and_a_retry_lands_every_transaction_once(pipeline, last_days):
    start, end = last_days(3)
    pipeline.register()
    engine = pipeline.engine
    with engine.connect() as conn:
        accounts = list_accounts(conn)
    window = DateWindow(start, end)
    identity = RunIdentity("run-interrupted", "00000000-0000-4000-8000-000000000002")
    now = datetime.now(UTC)

    def crash_after_the_first_batch(outcomes, synced: int) -> None:
        raise InjectedCrash(f"the step dies after {synced} account(s)")

    with pipeline.client() as client, pytest.raises(InjectedCrash):
        # One account per batch: the first batch commits, then the step dies while the worker fetches on.
        sync_accounts(
            client, engine, accounts, window, identity, now=now, on_batch=crash_after_the_first_batch, batch_accounts=1
        )

    assert not fetch_threads(), "the worker stopped with the step"
    assert pipeline.persisted() == [], "nothing reached bank_transactions"
    with engine.connect() as conn:
        synced = {fetch.account_id for fetch in successful_fetches(conn, identity.run_id)}
        # The writer may have committed a batch or two behind the one the step died on: always whole
        # batches, in account order, each with its staged rows.
        order = [account.account_id for account in accounts]
        assert synced and set(order[: len(synced)]) == synced
        served_synced = sum(len(pipeline.sandbox.state.transactions(account, start, end)) for account in synced)
        assert rows_in_stage(conn, identity.run_id) == staged_count(conn, identity.run_id) == served_synced
        assert conn.execute(sa.select(mono_accounts.c.last_success_at)).scalars().all() == [None] * len(accounts)

    # The step's retry: only the accounts not yet synced in this run; the first one's rows stay staged.
    rest = [account for account in accounts if account.account_id not in synced]
    with pipeline.client() as client:
        summary = sync_accounts(client, engine, rest, window, identity, now=now)
    assert [outcome.account_id for outcome in summary.outcomes] == [account.account_id for account in rest]
    outcome = persist_run(engine, identity, now=now)

    served = pipeline.served(start, end)
    assert outcome.stats.inserted == len(served) and outcome.stats.updated == 0
    persisted = [(row["account_id"], row["provider_transaction_id"]) for row in pipeline.persisted()]
    assert sorted(persisted) == sorted(served), "every transaction once, none twice"
    assert reconcile_run(engine, identity.run_id).balanced


def test_batches_of_many_accounts_stage_the_same_records_as_one_account_per_batch(pipeline, last_days):
    """Batching is an optimisation only: the records staged do not depend on how accounts are grouped."""
    start, end = last_days(2)
    pipeline.register()
    engine = pipeline.engine
    with engine.connect() as conn:
        accounts = list_accounts(conn)
    window = DateWindow(start, end)
    staged = {}
    for name, batch_accounts in (("one-per-batch", 1), ("all-in-one", 100)):
        identity = RunIdentity(f"run-{name}", f"corr-{name}")
        with pipeline.client() as client:
            summary = sync_accounts(client, engine, accounts, window, identity, batch_accounts=batch_accounts)
        assert summary.canonical.batches == (len(accounts) if batch_accounts == 1 else 1)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT transaction_id, content_hash FROM canonical_transactions WHERE run_id = :run "
                    "ORDER BY transaction_id"
                ),
                {"run": identity.run_id},
            ).all()
        staged[name] = [tuple(row) for row in rows]
    assert staged["one-per-batch"] == staged["all-in-one"]
    assert len(staged["all-in-one"]) == len(pipeline.served(start, end))


def test_the_run_summary_fails_the_schema_when_any_batch_failed_and_keeps_the_first_failures():
    """The step reports one schema result for all its batches: a failed batch is never hidden by later passes."""
    passed = CanonicalSummary(accounts=2, valid=10, staged=10, batches=1)
    failure_sample = pd.DataFrame({"column": ["narration"], "check": ["no_unmasked_account_numbers"]})
    failed = CanonicalSummary(accounts=1, valid=4, staged=0, batches=1, schema=SchemaReport(False, 3, failure_sample))
    combined = passed.plus(failed).plus(passed)
    assert not combined.schema.passed and combined.schema.num_failures == 3
    assert combined.schema.failure_sample is failure_sample
    assert (combined.accounts, combined.valid, combined.staged, combined.batches) == (5, 24, 20, 3)
