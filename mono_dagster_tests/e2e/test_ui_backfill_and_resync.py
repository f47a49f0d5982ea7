"""A backfill and a one-account resync launched through the real Dagster UI server, as a user would.

`dagster-webserver` and `dagster-daemon` run on the repository's workspace.yaml with the production
dagster.yaml (Postgres storage); the runs are launched with the GraphQL documents the UI sends, queued,
dequeued by the daemon and executed against the Mono sandbox over HTTP; the rows land in Postgres.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from mono_dagster_tests.e2e.conftest import SHARD_COUNT, Deployment, Stack
from mono_dagster_tests.e2e.ui_client import DagsterUI, tags_dict

ASSETS = ["mono_raw_transactions", "canonical_transactions", "bank_transactions"]
SYNC_JOB = "mono_sync_job"
PARTITION_SET = f"{SYNC_JOB}_partition_set"  # an asset job's partition set, as the launchpad names it
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS"}
BACKFILL_ENDED = BACKFILL_DONE | {"COMPLETED_FAILED", "FAILED", "CANCELED"}
RUN_ENDED = {"SUCCESS", "FAILURE", "CANCELED"}
# The backfill daemon looks at backfills every 30 s: one pass launches the runs, a later one completes it.
BACKFILL_TIMEOUT_SECONDS = 240
RUN_TIMEOUT_SECONDS = 120

Key = tuple[str, str]  # (account id, Mono transaction id)


def masked(narration: str) -> str:
    """What the canonical record stores: every run of 10+ digits masked down to its last four."""
    return re.sub(r"[0-9]{10,}", lambda match: "******" + match.group()[-4:], narration)


def served(sandbox: Any, accounts: list[str], start: date, end: date) -> dict[Key, tuple]:
    """The sandbox's transactions, as the fields a persisted row must carry."""
    return {
        (account, txn["id"]): (
            datetime.fromisoformat(txn["date"]),
            txn["type"],
            txn["amount"],
            txn["balance"],
            masked(txn["narration"]),
        )
        for account in accounts
        for txn in sandbox.state.transactions(account, start, end)
    }


def persisted(engine: sa.Engine) -> dict[Key, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select * from bank_transactions")).mappings().all()
    return {(row["account_id"], row["provider_transaction_id"]): dict(row) for row in rows}


def as_served(rows: dict[Key, dict[str, Any]]) -> dict[Key, tuple]:
    return {
        key: (row["posted_at"], row["direction"], row["amount_minor"], row["balance_after_minor"], row["narration"])
        for key, row in rows.items()
    }


def partition_key(day: date, shard: str) -> str:
    return str(dg.MultiPartitionKey({"date": day.isoformat(), "shard": shard}))


def finished_backfill(ui: DagsterUI, backfill_id: str) -> dict[str, Any] | None:
    backfill = ui.backfill(backfill_id)
    return backfill if backfill["status"] in BACKFILL_ENDED else None


def finished_run(ui: DagsterUI, run_id: str) -> dict[str, Any] | None:
    run = ui.run(run_id)
    return run if run["status"] in RUN_ENDED else None


def run_logs(ui: DagsterUI, run_ids: list[str]) -> str:
    return "\n".join(f"--- run {run_id}\n{ui.run_log(run_id)}" for run_id in run_ids)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(480)  # above the waits below, so a stuck stage fails with its own message and logs
def test_backfill_then_one_account_day_resync_launched_from_the_ui(
    sandbox, stack: Stack, deployment: Deployment, data_engine: sa.Engine
):
    ui, engine = deployment.ui, data_engine
    account = stack.accounts[0]
    # Seven days of the sandbox's history, older than the daily schedule's look-back window.
    days = [stack.first_day + timedelta(days=10 + offset) for offset in range(7)]

    # --- "Materialize" the three assets for 7 days x every shard: one backfill -------------------------
    keys = ui.partition_keys_by_dimension("bank_transactions")
    assert len(keys["shard"]) == SHARD_COUNT
    assert {day.isoformat() for day in days} <= set(keys["date"])
    partitions = [partition_key(day, shard) for day in days for shard in keys["shard"]]
    backfill_id = ui.launch_asset_backfill(ASSETS, partitions)
    backfill = deployment.wait(
        lambda: finished_backfill(ui, backfill_id), timeout=BACKFILL_TIMEOUT_SECONDS, what=f"backfill {backfill_id}"
    )
    backfill_runs = [run["runId"] for run in backfill["runs"]]
    assert backfill["status"] in BACKFILL_DONE, (
        f"backfill {backfill['status']}: {backfill['error']}\n{run_logs(ui, backfill_runs)}"
    )
    assert backfill["numPartitions"] == 7 * SHARD_COUNT
    assert backfill_runs and all(run["status"] == "SUCCESS" for run in backfill["runs"]), backfill["runs"]
    # The single-run backfill policy: one run per shard over all seven days, not one run per partition.
    ranges = {
        (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"])
        for tags in (tags_dict(run["tags"]) for run in backfill["runs"])
    }
    assert len(backfill_runs) == len(ranges) == SHARD_COUNT
    assert ranges == {(partition_key(days[0], shard), partition_key(days[-1], shard)) for shard in keys["shard"]}

    expected = served(sandbox, stack.accounts, days[0], days[-1])
    after_backfill = persisted(engine)
    assert len(expected) == 2 * 7 * 5
    assert as_served(after_backfill) == expected
    with engine.connect() as conn:
        registered = set(conn.execute(sa.text("select account_id from mono_accounts")).scalars())
    assert registered == set(stack.accounts), "the discovery sensor registered an account outside the allowlist"

    # --- Mono changes one day of one account: an amount and narration corrected, one late arrival -----
    day = days[3]
    before = sandbox.state.transactions(account, day, day)
    corrected = before[2]
    admin = f"{sandbox.base_url}/_sandbox/accounts/{account}/transactions"
    httpx.patch(
        f"{admin}/{corrected['id']}",
        json={"amount": corrected["amount"] + 10_000, "narration": "POS PURCHASE @ SPAR IKEJA (CORRECTED)"},
    ).raise_for_status()
    arrival = httpx.post(
        admin,
        json={
            "date": datetime.combine(day, time(13, 14, 15), UTC).isoformat(),
            "amount": 420_000,
            "type": "credit",
            "narration": "NIP/TRF FROM TAXPOYNT E2E/GTB",
        },
    )
    arrival.raise_for_status()
    added = arrival.json()
    sandbox.state.reset_request_log()

    # --- The launchpad: mono_sync_job, the (day, shard) partition picked, the accounts filter as config --
    with engine.connect() as conn:
        shard = conn.execute(
            sa.text("select shard from mono_accounts where account_id = :id"), {"id": account}
        ).scalar_one()
    tags = ui.partition_tags(PARTITION_SET, partition_key(day, f"shard-{shard:02d}"))
    run_config = f'ops:\n  mono_raw_transactions:\n    config:\n      accounts: ["{account}"]\n'
    run_id = ui.launch_run(SYNC_JOB, run_config, tags)
    run = deployment.wait(lambda: finished_run(ui, run_id), timeout=RUN_TIMEOUT_SECONDS, what=f"run {run_id}")
    assert run["status"] == "SUCCESS", run_logs(ui, [run_id])
    assert tags_dict(run["tags"])["dagster/partition"] == partition_key(day, f"shard-{shard:02d}")

    # Only that account was fetched, and only that day's rows changed: one corrected, one new.
    fetched = {record.path for record in sandbox.state.request_log if record.path.endswith("/transactions")}
    assert fetched == {f"/v2/accounts/{account}/transactions"}
    after_resync = persisted(engine)
    now_served = served(sandbox, [account], day, day)
    assert len(now_served) == len(before) + 1
    assert as_served({key: after_resync[key] for key in now_served}) == now_served
    untouched = {key: row for key, row in after_backfill.items() if key not in now_served}
    assert {key: after_resync[key] for key in untouched} == untouched
    assert set(after_resync) == set(untouched) | set(now_served), "no duplicates, nothing else added"
    changed_row = after_resync[(account, corrected["id"])]
    assert changed_row["amount_minor"] == corrected["amount"] + 10_000
    assert changed_row["narration"] == "POS PURCHASE @ SPAR IKEJA (CORRECTED)"
    assert changed_row["change_count"] == 1 and changed_row["last_changed_run_id"] == run_id
    assert after_resync[(account, added["id"])]["first_seen_run_id"] == run_id

    # No sensor launched anything: every run is the user's (a schedule tick could only add runs of its own).
    launched = {run["runId"] for run in ui.runs() if "dagster/schedule_name" not in tags_dict(run["tags"])}
    assert launched == {*backfill_runs, run_id}
