"""The sandbox's ground truth against what the pipeline persisted: the one comparison the reliability
matrix (and any test of "nothing lost, nothing doubled") uses.

Ground truth is what the sandbox serves for the window: every transaction id per account, the signed
sum of its amounts (credits add, debits subtract, in kobo) and the account's masked number. The
ledger must hold exactly those ids (none missing, none extra, none twice), the same signed sums and
the masked number on every row (never the full one).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from mono_dagster.sandbox import SandboxState
from mono_dagster.storage.accounts import mask_account_number

SAMPLE = 5  # ids shown in a failure message


@dataclass(frozen=True)
class Ledger:
    """Per account: the Mono ids, the signed sum in kobo, and the masked numbers seen on its rows."""

    ids: dict[str, set[str]]
    signed_sums: dict[str, int]
    masked_numbers: dict[str, set[str | None]]

    @property
    def rows(self) -> int:
        return sum(len(ids) for ids in self.ids.values())


def expected_ledger(
    state: SandboxState,
    start: date,
    end: date,
    *,
    accounts: Iterable[str] | None = None,
    excluded_ids: Collection[str] = (),
) -> Ledger:
    """What the sandbox serves for the window; `excluded_ids` are rows a test expects quarantined instead."""
    ids: dict[str, set[str]] = {}
    sums: dict[str, int] = {}
    masked: dict[str, set[str | None]] = {}
    for account_id in accounts if accounts is not None else state.account_ids():
        served = [txn for txn in state.transactions(account_id, start, end) if txn["id"] not in excluded_ids]
        if not served:
            continue
        ids[account_id] = {txn["id"] for txn in served}
        sums[account_id] = sum(int(txn["amount"]) * (-1 if txn["type"] == "debit" else 1) for txn in served)
        masked[account_id] = {mask_account_number(state.account(account_id)["account_number"])}
    return Ledger(ids, sums, masked)


def persisted_ledger(engine: sa.Engine) -> Ledger:
    """Everything `bank_transactions` holds; fails at once when any Mono id is stored twice."""
    query = sa.text(
        "SELECT account_id, provider_transaction_id, signed_amount_minor, account_number_masked FROM bank_transactions"
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    twice = [key for key, count in Counter((row[0], row[1]) for row in rows).items() if count > 1]
    assert not twice, f"{len(twice)} transaction(s) persisted more than once, e.g. {twice[:SAMPLE]}"
    ids: dict[str, set[str]] = defaultdict(set)
    sums: dict[str, int] = defaultdict(int)
    masked: dict[str, set[str | None]] = defaultdict(set)
    for account_id, mono_id, signed, number in rows:
        ids[account_id].add(mono_id)
        sums[account_id] += int(signed)
        masked[account_id].add(number)
    return Ledger(dict(ids), dict(sums), dict(masked))


def assert_matches_ground_truth(
    state: SandboxState,
    engine: sa.Engine,
    start: date,
    end: date,
    *,
    accounts: Iterable[str] | None = None,
    excluded_ids: Collection[str] = (),
) -> Ledger:
    """The whole ledger equals the sandbox's window: ids, signed sums and masked numbers, account by account.

    Use it on a database that only this window's backfills wrote: a row of another window is "extra".
    """
    expected = expected_ledger(state, start, end, accounts=accounts, excluded_ids=excluded_ids)
    found = persisted_ledger(engine)
    problems = []
    for account_id in sorted(set(expected.ids) | set(found.ids)):
        want, have = expected.ids.get(account_id, set()), found.ids.get(account_id, set())
        if missing := sorted(want - have):
            problems.append(f"{account_id}: {len(missing)} served but not persisted, e.g. {missing[:SAMPLE]}")
        if extra := sorted(have - want):
            problems.append(f"{account_id}: {len(extra)} persisted but not served, e.g. {extra[:SAMPLE]}")
        if expected.signed_sums.get(account_id, 0) != found.signed_sums.get(account_id, 0):
            problems.append(
                f"{account_id}: signed sum {found.signed_sums.get(account_id, 0)} kobo persisted, "
                f"{expected.signed_sums.get(account_id, 0)} served"
            )
        if have and found.masked_numbers.get(account_id) != expected.masked_numbers.get(account_id):
            problems.append(
                f"{account_id}: masked numbers {sorted(map(str, found.masked_numbers.get(account_id, set())))}, "
                f"expected {sorted(map(str, expected.masked_numbers.get(account_id, set())))}"
            )
    assert not problems, "the ledger differs from the sandbox:\n" + "\n".join(problems)
    assert expected.rows > 0, "the ground truth is empty: the test compares nothing"
    return found


@dataclass(frozen=True)
class LedgerSnapshot:
    """Every persisted row in full (change counts and timestamps included) and the quarantine's keys.

    Equal snapshots before and after a rerun mean it changed nothing: no new row, no rewritten row, no
    change_count bump, no new quarantine entry. (A quarantine row's latest-seen run and time move on
    by design, so only its key and reason are compared.)
    """

    columns: tuple[str, ...]
    transactions: tuple[tuple, ...]
    quarantine: tuple[tuple, ...]

    @property
    def change_count_total(self) -> int:
        index = self.columns.index("change_count")
        return sum(row[index] for row in self.transactions)


def ledger_snapshot(engine: sa.Engine) -> LedgerSnapshot:
    with engine.connect() as conn:
        result = conn.execute(sa.text("SELECT * FROM bank_transactions ORDER BY account_id, provider_transaction_id"))
        columns = tuple(result.keys())
        transactions = tuple(tuple(row) for row in result)
        quarantine = tuple(
            tuple(row)
            for row in conn.execute(
                sa.text(
                    "SELECT quarantine_key, account_id, provider_transaction_id, reason FROM quarantined_transactions "
                    "ORDER BY quarantine_key"
                )
            )
        )
    return LedgerSnapshot(columns, transactions, quarantine)
