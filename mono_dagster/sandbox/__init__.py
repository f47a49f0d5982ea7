"""A local HTTP server that behaves like Mono's API (api.withmono.com), for tests, demos and benchmarks.

It serves seeded, deterministic accounts and transactions in Mono's three response shapes with Mono's
documented quirks (mono_api.md §1.4, §2.1, §3), injects faults from a `FaultPlan`, and
has `/_sandbox/...` admin endpoints. Nothing here imports the client or the pipeline.
"""

from __future__ import annotations

from mono_dagster.sandbox.config import SandboxConfig
from mono_dagster.sandbox.faults import FaultPlan
from mono_dagster.sandbox.server import SandboxServer, run_sandbox
from mono_dagster.sandbox.state import RequestRecord, SandboxState

__all__ = ["FaultPlan", "RequestRecord", "SandboxConfig", "SandboxServer", "SandboxState", "run_sandbox"]
