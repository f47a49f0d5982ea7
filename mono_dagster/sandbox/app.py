"""Builds the sandbox's Starlette app: admin endpoints under `/_sandbox`, Mono's API everywhere else."""

from __future__ import annotations

from starlette.applications import Starlette

from mono_dagster.sandbox.admin_routes import admin_mount
from mono_dagster.sandbox.mono_routes import mono_routes
from mono_dagster.sandbox.state import SandboxState
from mono_dagster.sandbox.webhooks import webhook_admin_mount


def build_app(state: SandboxState) -> Starlette:
    # The admin mounts come first: Mono's catch-all route would otherwise answer `/_sandbox/...`; the
    # webhook mount precedes `/_sandbox`, which would otherwise take `/_sandbox/webhooks/...` too.
    return Starlette(routes=[webhook_admin_mount(state), admin_mount(state), *mono_routes(state)])
