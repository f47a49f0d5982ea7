"""The code location: every Dagster object of mono-dagster, merged in one `Definitions`."""

from __future__ import annotations

import dagster as dg

from mono_dagster.defs.resources import mono_resource_from_environment

defs = dg.Definitions(
    resources={"mono": mono_resource_from_environment()},
)
