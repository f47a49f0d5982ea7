"""The RFC's feature flag: `MONO_INGESTION_ENABLED=false` makes every schedule skip, with the reason shown."""

from __future__ import annotations

from mono_dagster.settings import Settings


def kill_switch_reason() -> str | None:
    """Read at every tick, so flipping the variable on the daemon takes effect without a redeploy."""
    if not Settings.from_env().ingestion_enabled:
        return "MONO_INGESTION_ENABLED=false: Mono ingestion is switched off (kill switch); nothing was launched"
    return None
