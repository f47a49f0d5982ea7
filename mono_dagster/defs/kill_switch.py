"""The RFC's feature flag: `MONO_INGESTION_ENABLED=false` makes every schedule skip, with the reason shown."""

from __future__ import annotations

import dagster as dg

from mono_dagster.settings import Settings


def kill_switch_reason() -> str | None:
    """Read at every tick, so flipping the variable on the daemon takes effect without a redeploy."""
    if not Settings.from_env().ingestion_enabled:
        return "MONO_INGESTION_ENABLED=false: Mono ingestion is switched off (kill switch); nothing was launched"
    return None


def run_unless_switched_off() -> dg.SkipReason | dg.RunRequest:
    """What a plain schedule returns: one run, or the kill switch's reason."""
    reason = kill_switch_reason()
    return dg.SkipReason(reason) if reason else dg.RunRequest()
