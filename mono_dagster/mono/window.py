"""A date window as Mono's `start`/`end` filters select it: inclusive UTC calendar dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, order=True)
class DateWindow:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"window start {self.start} is after its end {self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def mono_params(self) -> dict[str, str]:
        """Mono documents DD-MM-YYYY for `start` and `end` (mono_api.md §1.2)."""
        return {"start": self.start.strftime("%d-%m-%Y"), "end": self.end.strftime("%d-%m-%Y")}

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(self.days)]

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"
