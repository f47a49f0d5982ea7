"""`SandboxState`: the accounts, transactions, fault plan and request log one sandbox serves.

Tests change it from their own thread while the server thread reads it, so every method takes
`self.lock` (re-entrant). Routes that render live rows hold the lock themselves while they do.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from dataclasses import dataclass
from typing import Any

from mono_dagster.sandbox.bad_rows import referenced_ids
from mono_dagster.sandbox.config import SandboxConfig
from mono_dagster.sandbox.faults import FaultDecider, FaultPlan
from mono_dagster.sandbox.ledger import Ledger, parse_date, stored_fields
from mono_dagster.sandbox.narrations import BANKS, person
from mono_dagster.sandbox.seed import SeededAccount, hex_id, seed_accounts

EDITABLE_FIELDS = frozenset({"date", "amount", "type", "narration", "category"})


class UnknownAccount(KeyError):
    """No account with this id."""


class UnknownTransaction(KeyError):
    """No transaction with this id on the account."""


@dataclass
class RequestRecord:
    """One Mono API request as the sandbox saw it; `status` is 0 until the answer is ready."""

    method: str
    path: str
    query: dict[str, str]
    status: int = 0
    fault: str | None = None


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.request_log: list[RequestRecord] = []
        self.secret_key = config.secret_key
        self._decider = FaultDecider(FaultPlan())
        self._load_seed()

    def _load_seed(self) -> None:
        self.end_date = self.config.resolved_end_date()
        self._accounts: dict[str, SeededAccount] = {
            account.id: account for account in seed_accounts(self.config, self.end_date)
        }
        self._ledgers = {
            account.id: Ledger(account.opening_balance, account.transactions) for account in self._accounts.values()
        }
        self._added = 0  # numbers the ids of transactions added after seeding

    def reset(self) -> None:
        """Back to the seeded data and key, no faults, an empty request log."""
        with self.lock:
            self._load_seed()
            self.secret_key = self.config.secret_key
            self._decider = FaultDecider(FaultPlan())
            self.request_log.clear()

    # -- keys and faults -------------------------------------------------------------------------------
    def set_secret_key(self, key: str) -> None:
        if not key:
            raise ValueError("secret key must not be empty")
        with self.lock:
            self.secret_key = key

    @property
    def fault_plan(self) -> FaultPlan:
        """The active plan; its `script` holds the scripted faults not yet consumed."""
        return self._decider.plan

    @fault_plan.setter
    def fault_plan(self, plan: FaultPlan) -> None:
        self.set_fault_plan(plan)

    def set_fault_plan(self, plan: FaultPlan) -> None:
        """Makes `plan` active; UnknownTransaction when its bad rows name a transaction no account holds,
        or copy ("from") a transaction of another account."""
        with self.lock:
            for txn_id, named in referenced_ids(plan.served_as):
                owner = next((ledger for ledger in self._ledgers.values() if txn_id in ledger), None)
                if owner is None or named not in owner:
                    raise UnknownTransaction(named)
            self._decider = FaultDecider(plan)

    def take_paging_insert(self) -> int:
        """How many transactions arrive now that page 1 of a walk was served (non-zero once per plan)."""
        with self.lock:
            return self._decider.take_paging_insert()

    # -- request log -----------------------------------------------------------------------------------
    def record_request(self, method: str, path: str, query: dict[str, str]) -> RequestRecord:
        """Logs a Mono API request and picks its fault, in one step so the order is the arrival order."""
        with self.lock:
            record = RequestRecord(method, path, query, fault=self._decider.next_fault())
            self.request_log.append(record)
            return record

    def request_count(self, path_prefix: str = "/") -> int:
        with self.lock:
            return sum(1 for record in self.request_log if record.path.startswith(path_prefix))

    def reset_request_log(self) -> None:
        with self.lock:
            self.request_log.clear()

    # -- accounts --------------------------------------------------------------------------------------
    def account_ids(self) -> list[str]:
        with self.lock:
            return list(self._accounts)

    def _seeded(self, account_id: str) -> SeededAccount:
        try:
            return self._accounts[account_id]
        except KeyError:
            raise UnknownAccount(account_id) from None

    def ledger(self, account_id: str) -> Ledger:
        """The account's live ledger; hold `lock` while reading it."""
        self._seeded(account_id)
        return self._ledgers[account_id]

    def account(self, account_id: str) -> dict[str, Any]:
        """The v2 account object (`data.account` of `GET /v2/accounts/{id}`)."""
        with self.lock:
            seeded = self._seeded(account_id)
            return {
                "id": seeded.id,
                "name": seeded.name,
                "currency": "NGN",
                "type": "Digital Savings Account",
                "account_number": seeded.account_number,
                "balance": self._ledgers[account_id].balance,
                "bvn": seeded.bvn_last4,
                "institution": {
                    "name": seeded.bank.name,
                    "bank_code": seeded.bank.code,
                    "type": "PERSONAL_BANKING",
                },
            }

    def customer(self, account_id: str) -> dict[str, Any]:
        seeded = self._seeded(account_id)
        return {"id": seeded.customer_id, "name": seeded.name, "email": seeded.customer_email}

    # -- transactions ----------------------------------------------------------------------------------
    def transactions(
        self, account_id: str, start: dt.date | None = None, end: dt.date | None = None
    ) -> list[dict[str, Any]]:
        """Copies of the v2 transactions dated `start`..`end` (inclusive UTC days), newest first."""
        with self.lock:
            rows = self.ledger(account_id).between(start, end)
            return [dict(row) for row in reversed(rows)]

    def add_transaction(
        self,
        account_id: str,
        *,
        date: dt.datetime,
        amount: int,
        type: str,
        narration: str,
        category: str | None = None,
    ) -> dict[str, Any]:
        """Adds a transaction (the newest of its exact date) and returns it with its running balance."""
        with self.lock:
            ledger = self.ledger(account_id)
            row = {
                "id": self._new_id(account_id, ledger),
                "narration": "",
                "amount": 0,
                "type": "credit",
                "balance": 0,
                "date": "",
                "category": None,
            }
            row.update(
                stored_fields(
                    {
                        "date": date,
                        "amount": amount,
                        "type": type,
                        "narration": narration,
                        "category": category,
                    }
                )
            )
            ledger.insert(row)
            return dict(row)

    def update_transaction(self, account_id: str, txn_id: str, **fields: Any) -> dict[str, Any]:
        """Changes date, amount, type, narration or category; later balances follow."""
        unknown = sorted(set(fields) - EDITABLE_FIELDS)
        if unknown:
            editable = ", ".join(sorted(EDITABLE_FIELDS))
            raise ValueError(f"cannot change {', '.join(unknown)}; editable: {editable}")
        with self.lock:
            ledger = self.ledger(account_id)
            if txn_id not in ledger:
                raise UnknownTransaction(txn_id)
            return dict(ledger.update(txn_id, stored_fields(fields)))

    def remove_transaction(self, account_id: str, txn_id: str) -> None:
        with self.lock:
            ledger = self.ledger(account_id)
            if txn_id not in ledger:
                raise UnknownTransaction(txn_id)
            ledger.remove(txn_id)

    def add_arrivals(
        self,
        account_id: str,
        count: int,
        *,
        start: dt.date | None,
        end: dt.date | None,
        type_filter: str | None = None,
        narration_filter: str | None = None,
    ) -> list[dict[str, Any]]:
        """`count` new transactions landing at the newest end of a window, matching the window's filters.

        This is what shifts the pages under a client that is paging through the window.
        """
        with self.lock:
            rows = self.ledger(account_id).between(start, end)
            floor = dt.datetime.combine(start or end or self.end_date, dt.time(), dt.UTC)
            latest = max(parse_date(rows[-1]["date"]) if rows else floor, floor)
            day_end = dt.datetime.combine(end, dt.time(23, 59, 59), dt.UTC) if end else None
            rng = random.Random(f"arrivals:{self.config.seed}:{account_id}:{self._added}")
            added = []
            for offset in range(1, count + 1):
                when = latest + dt.timedelta(seconds=offset)
                # A filtered walk must see the arrivals too, so they match its filters.
                source = narration_filter.upper() if narration_filter else person(rng)
                source += f"/{rng.choice(BANKS).short}"
                added.append(
                    self.add_transaction(
                        account_id,
                        date=min(when, day_end) if day_end else when,
                        amount=rng.randint(1_000, 50_000) * 100,
                        type=type_filter or "credit",
                        narration=f"NIP/TRF FROM {source}",
                        category="transfer",
                    )
                )
            return added

    def _new_id(self, account_id: str, ledger: Ledger) -> str:
        while True:
            self._added += 1
            candidate = hex_id("added", self.config.seed, account_id, self._added)
            if candidate not in ledger:
                return candidate

    def summary(self) -> dict[str, Any]:
        """What `GET /_sandbox/state` shows (never the secret key)."""
        with self.lock:
            return {
                "config": self.config.to_public_dict(),
                "end_date": self.end_date.isoformat(),
                "accounts": [
                    {"id": account_id, "transactions": len(ledger), "balance": ledger.balance}
                    for account_id, ledger in self._ledgers.items()
                ],
                "transactions": sum(len(ledger) for ledger in self._ledgers.values()),
                "requests": len(self.request_log),
                "fault_plan": self.fault_plan.to_dict(),
            }
