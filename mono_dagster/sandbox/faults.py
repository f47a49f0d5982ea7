"""`FaultPlan` (which faults to inject) and `FaultDecider` (picks the fault for each Mono API request).

Scripted faults come first, one per request, in order; then each request draws from the plan's own
`random.Random(seed)`, so a run with the same requests gets the same faults. This module decides; the
routes render the answer.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from mono_dagster.sandbox.bad_rows import check_served_as
from mono_dagster.sandbox.config import SHAPES

FAULT_KINDS: tuple[str, ...] = (
    "429", "429_retry_after", "429_retry_after_date", "500", "502", "503", "slow", "truncated",
)  # fmt: skip
OK = "ok"  # in a script: serve this request normally


def is_fault_kind(kind: str) -> bool:
    """A named kind, or any HTTP error status ("400", "403", "504") answered with a Mono error body."""
    return kind in FAULT_KINDS or (kind.isdigit() and len(kind) == 3 and 400 <= int(kind) <= 599)


@dataclass
class FaultPlan:
    seed: int = 0
    rate: float = 0.0  # probability that a Mono API request gets a random fault from `kinds`
    kinds: tuple[str, ...] = FAULT_KINDS
    slow_seconds: float = 0.3
    retry_after_seconds: int = 1
    script: list[str] = field(default_factory=list)  # faults for the next requests, before random ones
    duplicate_across_pages: bool = False  # page N's last transaction is also page N+1's first
    new_transactions_while_paging: int = 0  # inserted once, right after page 1 of a multi-page walk
    shape: str | None = None  # overrides config.shape on /v2 transaction responses
    # Bad input as Mono might send it: transaction id -> fields served in place of the stored ones
    # (e.g. {"amount": -500}); the ledger and its balances are untouched.
    malformed: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Bad rows beyond changed values: transaction id -> the rows served in its place (`bad_rows`):
    # fields dropped, duplicates within or across pages, rows without an id, padded text.
    served_as: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kinds = tuple(self.kinds)
        self.script = list(self.script)
        if not isinstance(self.malformed, dict) or not all(isinstance(v, dict) for v in self.malformed.values()):
            raise ValueError("malformed must map transaction ids to objects of fields")
        self.served_as = check_served_as(self.served_as)
        both = sorted(set(self.malformed) & set(self.served_as))
        if both:
            raise ValueError(f"transactions in both malformed and served_as: {', '.join(both)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, not {self.rate}")
        for kind in self.kinds:
            if not is_fault_kind(kind):
                raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)} or a status")
        for kind in self.script:
            if kind != OK and not is_fault_kind(kind):
                raise ValueError(f"unknown scripted fault {kind!r}")
        if self.rate > 0 and not self.kinds:
            raise ValueError("a fault rate needs at least one fault kind")
        if self.slow_seconds < 0 or self.retry_after_seconds < 0 or self.new_transactions_while_paging < 0:
            raise ValueError("slow_seconds, retry_after_seconds and new_transactions_while_paging must be >= 0")
        if self.shape is not None and self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)} or null, not {self.shape!r}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FaultPlan:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown fault plan fields: {', '.join(unknown)}")
        return cls(**d)

    def row_variants(self) -> dict[str, list[dict[str, Any]]]:
        """Every transaction served other than as stored: `served_as`, with `malformed` as one "set" each."""
        return {**{txn_id: [{"set": fields}] for txn_id, fields in self.malformed.items()}, **self.served_as}

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["kinds"] = list(self.kinds)
        return values


class FaultDecider:
    """The running state of one plan: its random stream, what is left of its script, the one-shot insert.

    It works on a copy of the plan, so `plan.script` shows what is left and the caller's object is untouched.
    Not thread-safe: `SandboxState` holds the lock.
    """

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = replace(plan, script=list(plan.script))
        self._rng = random.Random(plan.seed)
        self._inserted_while_paging = False

    def next_fault(self) -> str | None:
        if self.plan.script:
            kind = self.plan.script.pop(0)
            return None if kind == OK else kind
        if self.plan.rate > 0 and self._rng.random() < self.plan.rate:
            return self._rng.choice(self.plan.kinds)
        return None

    def take_paging_insert(self) -> int:
        """How many transactions to insert now that page 1 of a walk was served (non-zero only once)."""
        if self._inserted_while_paging or not self.plan.new_transactions_while_paging:
            return 0
        self._inserted_while_paging = True
        return self.plan.new_transactions_while_paging
