"""Helpers for the tests of accounts spread over several shards: picking them, the sandbox's ground
truth for exactly those accounts, what the database holds, and the runs a Dagster instance recorded."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from mono_dagster.defs import names
from mono_dagster.defs.launch import SHARD_TAG
from mono_dagster.sandbox import SandboxConfig, SandboxServer, SandboxState
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import mask_account_number, shard_for
from mono_dagster.storage.engine import create_db_engine
from mono_dagster.storage.tables import bank_transactions

# Six accounts of seed 7 land on three shards (of 8), several per shard: a chosen account always shares
# its shard with one that is not chosen, so a run that ignored its filter would be caught.
SANDBOX_ACCOUNTS = 6

Row = tuple[str, str, str, int, str | None]  # account, Mono id, direction, signed kobo, masked number


@pytest.fixture()
def sandbox() -> Iterator[SandboxServer]:
    """Overrides the suite's 3-account sandbox (whose accounts each sit alone on their shard)."""
    state = SandboxState(SandboxConfig(seed=7, accounts=SANDBOX_ACCOUNTS, days=30, per_day=5))
    with SandboxServer(state) as server:
        yield server


def one_account_per_shard(state: SandboxState, count: int = 3) -> dict[int, str]:
    """`count` sandbox accounts on `count` different shards (by the project's shard function), by shard.

    Fails (instead of testing less) when the sandbox cannot give that many shards, or when no other
    account shares a shard with a chosen one.
    """
    shard_count = Settings.from_env().shard_count
    chosen: dict[int, str] = {}
    for account_id in state.account_ids():
        chosen.setdefault(shard_for(account_id, shard_count), account_id)
    assert len(chosen) >= count, f"the sandbox's accounts span only shards {sorted(chosen)}"
    picked = dict(sorted(chosen.items())[:count])
    neighbours = [a for a in state.account_ids() if a not in picked.values() and shard_for(a, shard_count) in picked]
    assert neighbours, "no unchosen account shares a shard with a chosen one: the filter would go untested"
    return picked


def ground_truth(state: SandboxState, accounts: Iterable[str], start: date, end: date) -> set[Row]:
    """What Mono holds for exactly these accounts in the window, as the persisted rows must say it."""
    rows: set[Row] = set()
    for account_id in accounts:
        masked = mask_account_number(state.account(account_id)["account_number"])
        for txn in state.transactions(account_id, start, end):
            sign = -1 if txn["type"] == "debit" else 1
            rows.add((account_id, txn["id"], txn["type"], sign * int(txn["amount"]), masked))
    return rows


def persisted(database_url: str) -> set[Row]:
    table = bank_transactions.c
    query = sa.select(
        table.account_id, table.provider_transaction_id, table.direction, table.signed_amount_minor,
        table.account_number_masked,
    )  # fmt: skip
    with create_db_engine(database_url).connect() as conn:
        found = [tuple(row) for row in conn.execute(query)]
    assert len(found) == len(set(found)), "a transaction is persisted twice"
    return set(found)  # type: ignore[arg-type]


def transactions_requested(state: SandboxState) -> set[str]:
    """The accounts whose transactions the sandbox was asked for."""
    return {record.path.split("/")[3] for record in state.request_log if record.path.endswith("/transactions")}


def recorded_runs(dagster_home: Path) -> list[dg.DagsterRun]:
    """Every run the instance in `dagster_home` recorded (none when the CLI never created it)."""
    if not (dagster_home / "dagster.yaml").exists():
        return []
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        return [record.dagster_run for record in instance.get_run_records()]


def run_accounts(run: dg.DagsterRun) -> list[str]:
    """The accounts filter a run was launched with (empty: every active account of its shards)."""
    return list(run.run_config.get("ops", {}).get(names.RAW_ASSET, {}).get("config", {}).get("accounts", []))


def run_shard(run: dg.DagsterRun) -> int:
    return int(run.tags[SHARD_TAG].removeprefix("shard-"))


def shard_filters(runs: Iterable[dg.DagsterRun]) -> dict[int, list[str]]:
    """shard -> accounts filter, for runs of one shard each; a shard run twice fails the test."""
    found: dict[int, list[str]] = {}
    for run in runs:
        shard = run_shard(run)
        assert shard not in found, f"shard {shard} was run twice"
        found[shard] = run_accounts(run)
    return found


def summary(run: Any) -> str:
    return f"{run.run_id[:8]} {run.status} {run.tags.get(SHARD_TAG)} {run_accounts(run)}"
