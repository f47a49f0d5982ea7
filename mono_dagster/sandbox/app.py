"""Builds the sandbox's Starlette app: admin endpoints under `/_sandbox`, Mono's API everywhere else."""

from __future__ import annotations

from starlette.applications import Starlette

from mono_dagster.sandbox.admin_routes import admin_mount
from mono_dagster.sandbox.mono_routes import mono_routes
from mono_dagster.sandbox.state import SandboxState


def build_app(state: SandboxState) -> Starlette:
    # The admin mount comes first: Mono's catch-all route would otherwise answer `/_sandbox/...`.
    return Starlette(routes=[admin_mount(state), *mono_routes(state)])
