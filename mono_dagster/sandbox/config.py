"""`SandboxConfig`: what the sandbox seeds (accounts, history, transactions a day) and how it answers.

Plain settings only; generating data from them is `seed`'s job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

SHAPES: tuple[str, ...] = ("v2", "v1", "legacy")


@dataclass(frozen=True)
class SandboxConfig:
    seed: int = 7
    accounts: int = 3
    days: int = 30  # history length in days, ending at end_date inclusive
    end_date: dt.date | None = None  # None = today (UTC), resolved when the state is built
    per_day: int = 5  # EXACT number of transactions per account per UTC day
    secret_key: str = "test_sk_sandbox"  # noqa: S105 - a sandbox key, not a secret; what the `mono-sec-key` header must equal
    shape: str = "v2"  # default response shape on /v2 transaction paths

    def __post_init__(self) -> None:
        if self.accounts < 0:
            raise ValueError(f"accounts must be 0 or more, not {self.accounts}")
        if self.days < 1:
            raise ValueError(f"days must be at least 1, not {self.days}")
        # Times in a day are distinct whole seconds, which keeps every account's order total.
        if not 0 <= self.per_day <= 86_400:
            raise ValueError(f"per_day must be between 0 and 86400, not {self.per_day}")
        if not self.secret_key:
            raise ValueError("secret_key must not be empty")
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {self.shape!r}")

    def resolved_end_date(self) -> dt.date:
        return self.end_date or dt.datetime.now(dt.UTC).date()

    def to_public_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values, without the secret key (admin answers are often logged)."""
        values = asdict(self)
        values.pop("secret_key")
        values["end_date"] = self.end_date.isoformat() if self.end_date else None
        return values
