"""Bad rows from Mono through `mono-dagster backfill` (a subprocess, real HTTP, SQLite and Postgres).

One backfill serves every kind of bad row at once (CI time: one backfill per database, not one per
kind), spread over three accounts with pages of 7 so that duplicates can cross pages. Then, per kind:
the bad row is in `quarantined_transactions` with the exact reason naming its field, every good row is
persisted (ids, signed sum and masked number checked against the sandbox's ledger), emoji and quotes
are stored intact, and nothing crashed. A second backfill changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from mono_dagster.sandbox import FaultPlan, SandboxConfig, SandboxServer, SandboxState
from mono_dagster.storage.engine import create_db_engine, dispose_engines
from mono_dagster.storage.migrate import upgrade_database
from mono_dagster_tests.cli.test_sync_commands import run_cli

PAGE_SIZE = 7  # 20 rows an account window: 3-4 pages, so a copy can sit pages away from its original
WINDOW_DAYS = 4
HUGE_NARRATION = 1_048_576
EMOJI_NARRATION = "POS 🛒 SHOPRITE LEKKI ☕ café — 🇳🇬 naïve"
QUOTED_NARRATION = 'TRF TO "ADE\'S KITCHEN" \\ 50% OFF\t\'O\'Neil\' """'
CONFLICT = "id: repeated with different content"


@dataclass
class BadRows:
    """The plan served, and what each account must end with."""

    served_as: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # (account, Mono id or None, reason): one entry per quarantine row
    quarantined: Counter[tuple[str, str | None, str]] = field(default_factory=Counter)
    bad_ids: set[str] = field(default_factory=set)  # served ids that must not be persisted
    fetched: dict[str, int] = field(default_factory=dict)  # rows the walk keeps per account

    def quarantine(self, account: str, txn: dict[str, Any] | None, reason: str, variants: list[dict[str, Any]]):
        if txn is not None:
            self.served_as.setdefault(txn["id"], variants)
            self.bad_ids.add(txn["id"])
        self.quarantined[(account, None if txn is None else txn["id"], reason)] += 1


def window() -> tuple[date, date]:
    end = datetime.now(UTC).date() - timedelta(days=1)
    return end - timedelta(days=WINDOW_DAYS - 1), end


def plan_bad_rows(state: SandboxState, start: date, end: date) -> BadRows:
    """Every bad-row kind, on rows of the window (newest first, as served); records what must follow."""
    first, second, third = state.account_ids()
    plan = BadRows()
    rows = {account: state.transactions(account, start, end) for account in (first, second, third)}
    for account, served in rows.items():
        plan.fetched[account] = len(served)

    # First account: amounts and types.
    a = rows[first]
    plan.quarantine(first, a[1], "amount: not a positive integer ('12,500')", [{"set": {"amount": "12,500"}}])
    plan.served_as[a[2]["id"]] = [{"set": {"amount": str(a[2]["amount"])}}]  # "147085": an integer, kept
    plan.quarantine(first, a[3], "amount: not a positive integer ('500.5')", [{"set": {"amount": 500.5}}])
    plan.served_as[a[4]["id"]] = [{"set": {"amount": float(a[4]["amount"])}}]  # 147085.0: kept
    plan.quarantine(first, a[5], "amount: not a positive integer ('-500')", [{"set": {"amount": -500}}])
    plan.quarantine(first, a[6], "amount: missing", [{"drop": ["amount"]}])
    plan.quarantine(first, a[7], "type: not debit or credit ('refund')", [{"set": {"type": "refund"}}])
    plan.quarantine(first, a[8], "type: missing", [{"drop": ["type"]}])

    # Second account: dates, ids, duplicates within a page.
    b = rows[second]  # served: b0 b0 b1 b2 b3 - - | b4 b5 b5' ... (pages of 7)
    plan.served_as[b[0]["id"]] = [{}, {}]  # the same id twice in a page, same content: stored once
    plan.quarantine(second, b[1], "date: missing", [{"drop": ["date"]}])
    plan.quarantine(second, b[2], "date: not an ISO-8601 date-time ('14-12-2023')", [{"set": {"date": "14-12-2023"}}])
    # Two equal rows without an id right after a good one: each is quarantined, the good one persisted.
    plan.served_as[b[3]["id"]] = [{}, {"drop": ["id"]}, {"drop": ["id"]}]
    plan.quarantined[(second, None, "id: missing")] += 2
    plan.fetched[second] += 2
    plan.quarantine(second, b[5], CONFLICT, [{}, {"set": {"narration": "THE SAME ID, ANOTHER NARRATION"}}])
    plan.quarantined[(second, b[5]["id"], CONFLICT)] += 1  # both versions
    plan.fetched[second] += 1

    # Third account: duplicates across pages, a 1 MB narration, NUL; emoji and quotes are data.
    c = rows[third]
    plan.served_as[c[-1]["id"]] = [{}, {"from": c[0]["id"]}]  # page 1's first row again on the last page
    plan.served_as[c[-2]["id"]] = [{}, {"from": c[1]["id"], "set": {"amount": c[1]["amount"] + 100}}]
    plan.quarantined[(third, c[1]["id"], CONFLICT)] += 2
    plan.bad_ids.add(c[1]["id"])
    plan.fetched[third] += 1
    plan.quarantine(
        third,
        c[2],
        "narration: longer than 4096 characters ('1048576 characters')",
        [{"pad": {"narration": HUGE_NARRATION}}],
    )
    plan.quarantine(
        third, c[3], "narration: holds a NUL character", [{"set": {"narration": "POS PURCHASE\x00 SHOPRITE"}}]
    )
    return plan


@pytest.fixture()
def sandbox():
    state = SandboxState(SandboxConfig(seed=7, accounts=3, days=WINDOW_DAYS + 2, per_day=5))
    with SandboxServer(state) as server:
        yield server


def summary_rows(stdout: str) -> dict[str, list[str]]:
    """The summary table's cells by account id: status, fetched, persisted, quarantined, duplicates, breaks."""
    table = stdout[stdout.index("account  ") :].splitlines()[2:]
    return {cells[0]: cells[1:] for cells in (line.split() for line in table) if len(cells) == 7}


def only_balance_warnings(stderr: str) -> bool:
    """Some check failed, and every failed check is the balance-continuity warning."""
    failed = [line for line in stderr.splitlines() if line.startswith("check failed: ")]
    return bool(failed) and all("balance_continuity (WARN)" in line for line in failed)


def pages_holding(engine: sa.Engine, account: str, mono_id: str) -> list[tuple[int, int]]:
    """(page number, copies of the id on it) for each stored page of the account holding the id."""
    query = sa.text("SELECT page_number, payload FROM mono_raw_pages WHERE account_id = :account ORDER BY page_number")
    with engine.connect() as conn:
        pages = conn.execute(query, {"account": account}).all()
    return [(number, payload.count(f'"{mono_id}"')) for number, payload in pages if mono_id in payload]


def ledger(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text("SELECT * FROM bank_transactions ORDER BY transaction_id"))]


def quarantine_keys(engine: sa.Engine) -> list[tuple]:
    query = (
        "SELECT quarantine_key, first_run_id, account_id, provider_transaction_id, reason FROM quarantined_transactions"
    )
    with engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(sa.text(query + " ORDER BY quarantine_key")))


def test_every_bad_row_is_quarantined_naming_its_field_and_the_good_rows_are_exact(sandbox, database_url, tmp_path):
    start, end = window()
    state = sandbox.state
    first, second, third = state.account_ids()
    # Valid text: in the ledger itself, so the ground truth holds it.
    emoji_row, quoted_row = state.transactions(third, start, end)[4:6]
    state.update_transaction(third, emoji_row["id"], narration=EMOJI_NARRATION)
    state.update_transaction(third, quoted_row["id"], narration=QUOTED_NARRATION)
    plan = plan_bad_rows(state, start, end)
    state.set_fault_plan(FaultPlan(served_as=plan.served_as))
    env = {
        "MONO_BASE_URL": sandbox.base_url,
        "MONO_SECRET_KEY": state.secret_key,
        "MONO_DAGSTER_DB_URL": database_url,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "MONO_PAGE_SIZE": str(PAGE_SIZE),
    }
    upgrade_database(database_url)  # in process: one interpreter start less than `mono-dagster db upgrade`
    engine = create_db_engine(database_url)
    try:
        done = run_cli("backfill", "--start", start.isoformat(), "--end", end.isoformat(), env=env)

        # Nothing crashed: every shard's run succeeded; the only failed check is the balance warning,
        # which the missing (quarantined) rows rightly break.
        assert "Traceback" not in done.stderr, done.stderr
        assert "FAILED" not in done.stdout and done.stdout.count(" succeeded; ") >= 1, done.stdout
        assert only_balance_warnings(done.stderr), done.stderr
        assert done.returncode == 1, done.stdout + done.stderr

        # Each bad row is quarantined once per version, with the exact reason naming its field.
        with engine.connect() as conn:
            found = Counter(
                (account, mono_id, reason)
                for account, mono_id, reason in conn.execute(
                    sa.text("SELECT account_id, provider_transaction_id, reason FROM quarantined_transactions")
                )
            )
        assert found == plan.quarantined

        # The duplicates were served where they claim to be: across pages, and twice within a page.
        third_rows, second_rows = state.transactions(third, start, end), state.transactions(second, start, end)
        for original in third_rows[:2]:  # one copy on page 1, the other on a later page
            (first_page, once), (later_page, again) = pages_holding(engine, third, original["id"])
            assert (first_page, once, again) == (1, 1, 1) and later_page > 2
        assert pages_holding(engine, second, second_rows[0]["id"]) == [(1, 2)]
        assert pages_holding(engine, second, second_rows[5]["id"]) == [(2, 2)]

        # Every good row is persisted exactly: ids, signed sum and masked numbers against the ledger.
        for account in (first, second, third):
            served = [txn for txn in state.transactions(account, start, end) if txn["id"] not in plan.bad_ids]
            with engine.connect() as conn:
                stored = conn.execute(
                    sa.text(
                        "SELECT provider_transaction_id, signed_amount_minor, signed_amount, account_number_masked, "
                        "narration, change_count FROM bank_transactions WHERE account_id = :account"
                    ),
                    {"account": account},
                ).all()
            assert sorted(row[0] for row in stored) == sorted(txn["id"] for txn in served), account
            signed = sum(txn["amount"] * (-1 if txn["type"] == "debit" else 1) for txn in served)
            assert sum(row[1] for row in stored) == signed
            assert sum(row[2] for row in stored) * 100 == signed  # the decimal column agrees to the kobo
            number = state.account(account)["account_number"]
            assert {row[3] for row in stored} == {f"******{number[-4:]}"}
            assert {row[5] for row in stored} == {0}
            if account == third:
                narrations = {row[0]: row[4] for row in stored}
                assert narrations[emoji_row["id"]] == EMOJI_NARRATION
                assert narrations[quoted_row["id"]] == QUOTED_NARRATION

        # The summary: every account ok, fetched = persisted + quarantined, no duplicate key stored.
        table = summary_rows(done.stdout)
        for account in (first, second, third):
            persisted = len([t for t in state.transactions(account, start, end) if t["id"] not in plan.bad_ids])
            quarantined = sum(count for (owner, _, _), count in plan.quarantined.items() if owner == account)
            status, fetched, persisted_cell, quarantined_cell, duplicates, _ = table[account]
            assert (status, int(fetched), int(persisted_cell), int(quarantined_cell), int(duplicates)) == (
                "ok",
                plan.fetched[account],
                persisted,
                quarantined,
                0,
            ), done.stdout
            assert plan.fetched[account] == persisted + quarantined

        # A rerun changes nothing: no new or rewritten row, no new quarantine row, no change_count bump.
        before = (ledger(engine), quarantine_keys(engine))
        again = run_cli("backfill", "--start", start.isoformat(), "--end", end.isoformat(), env=env)
        assert "Traceback" not in again.stderr and again.returncode == 1, again.stdout + again.stderr
        assert (ledger(engine), quarantine_keys(engine)) == before

        # A conflict on a transaction stored earlier leaves the stored version as it was, not missing.
        stored_earlier = state.transactions(third, start, end)[6]
        conflict = [{}, {"set": {"narration": "A LATER, DIFFERENT VERSION"}}]
        state.set_fault_plan(FaultPlan(served_as={**plan.served_as, stored_earlier["id"]: conflict}))
        resync = run_cli("resync", "--account", third, "--start", start.isoformat(), "--end", end.isoformat(), env=env)
        assert "Traceback" not in resync.stderr and "FAILED" not in resync.stdout, resync.stdout + resync.stderr
        assert only_balance_warnings(resync.stderr), resync.stderr  # reconciliation balances with the conflict
        assert ledger(engine) == before[0]
        with engine.connect() as conn:
            versions = conn.execute(
                sa.text("SELECT reason FROM quarantined_transactions WHERE provider_transaction_id = :id"),
                {"id": stored_earlier["id"]},
            ).scalars()
            assert list(versions) == [CONFLICT, CONFLICT]
            assert (
                conn.execute(
                    sa.text("SELECT missing_fetch_count FROM bank_transactions WHERE provider_transaction_id = :id"),
                    {"id": stored_earlier["id"]},
                ).scalar_one()
                == 0
            )
    finally:
        engine.dispose()
        dispose_engines()
