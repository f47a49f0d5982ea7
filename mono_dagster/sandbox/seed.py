"""Deterministic seeded accounts and transaction histories: same config and end date, same data.

Every account draws from its own `random.Random`, so adding accounts never changes the first ones.
Transaction ids are sha1 of seed/account/position. Generation is a tight loop (about 3 µs a
transaction) because the benchmark seeds 91,250 of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass
from typing import Any

from mono_dagster.sandbox.config import SandboxConfig
from mono_dagster.sandbox.narrations import BANKS, CREDIT_KINDS, DEBIT_KINDS, Bank, person, weighted

_CREDITS = weighted(CREDIT_KINDS)
_DEBITS = weighted(DEBIT_KINDS)
# Credits are rarer but larger, as on a salary account; the share leans against drift so a year of 50 a
# day stays near the opening balance instead of growing without bound.
CREDIT_SHARE_BELOW_OPENING = 0.3
CREDIT_SHARE_ABOVE_OPENING = 0.1
NULL_CATEGORY_SHARE = 0.08  # uncategorised transactions (Mono's category is often null)


@dataclass(frozen=True)
class SeededAccount:
    id: str
    name: str
    account_number: str
    bvn_last4: str
    bank: Bank
    customer_id: str
    customer_email: str
    opening_balance: int  # kobo, before the first seeded transaction
    transactions: list[dict[str, Any]]  # v2 objects, oldest first


def hex_id(*parts: object) -> str:
    """A 24-hex, ObjectId-looking id derived from the parts."""
    return hashlib.sha1(":".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()[:24]


def seed_accounts(config: SandboxConfig, end_date: dt.date) -> list[SeededAccount]:
    return [seed_account(config, index, end_date) for index in range(config.accounts)]


def seed_account(config: SandboxConfig, index: int, end_date: dt.date) -> SeededAccount:
    rng = random.Random(f"mono-sandbox:{config.seed}:{index}")
    account_id = hex_id("account", config.seed, index)
    name = person(rng)
    opening_balance = rng.randint(50_000, 500_000) * 100
    first_day = end_date - dt.timedelta(days=config.days - 1)
    return SeededAccount(
        id=account_id,
        name=name,
        account_number=f"{rng.randrange(10**10):010d}",
        bvn_last4=f"{rng.randrange(10_000):04d}",
        bank=rng.choice(BANKS),
        customer_id=hex_id("customer", config.seed, index),
        customer_email=f"{name.split()[0].lower()}.{index}@example.com",
        opening_balance=opening_balance,
        transactions=history(
            rng, f"{config.seed}:{account_id}:", first_day, config.days, config.per_day, opening_balance
        ),
    )


def history(
    rng: random.Random, id_prefix: str, first_day: dt.date, days: int, per_day: int, balance: int
) -> list[dict[str, Any]]:
    """`per_day` transactions on each of `days` days, oldest first, with a never-negative running balance."""
    rows: list[dict[str, Any]] = []
    sha1 = hashlib.sha1
    seconds_of_day = range(86_400)
    opening = balance
    position = 0
    for offset in range(days):
        day = (first_day + dt.timedelta(days=offset)).isoformat()
        for second in sorted(rng.sample(seconds_of_day, per_day)):
            credit_share = CREDIT_SHARE_BELOW_OPENING if balance < opening else CREDIT_SHARE_ABOVE_OPENING
            kind = rng.choice(_CREDITS if rng.random() < credit_share else _DEBITS)
            narration, amount, category = kind.draw(rng)
            if kind.type == "debit" and amount > balance:
                # A low balance gets money in instead; the account never goes overdrawn.
                kind = rng.choice(_CREDITS)
                narration, amount, category = kind.draw(rng)
            balance = balance + amount if kind.type == "credit" else balance - amount
            hours, rest = divmod(second, 3600)
            rows.append(
                {
                    "id": sha1(f"{id_prefix}{position}".encode(), usedforsecurity=False).hexdigest()[:24],
                    "narration": narration,
                    "amount": amount,
                    "type": kind.type,
                    "balance": balance,
                    "date": f"{day}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.000Z",
                    "category": None if rng.random() < NULL_CATEGORY_SHARE else category,
                }
            )
            position += 1
    return rows
