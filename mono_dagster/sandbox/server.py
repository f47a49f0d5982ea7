"""Runs the sandbox app under uvicorn: `SandboxServer` in a daemon thread (tests, demo, benchmarks) and
`run_sandbox` in the foreground (the CLI)."""

from __future__ import annotations

from collections.abc import Callable

from mono_dagster.asgi_server import ThreadedServer, serve_forever
from mono_dagster.sandbox.app import build_app
from mono_dagster.sandbox.state import SandboxState

# A "slow" fault keeps its request open; shutdown waits this long for such requests.
GRACEFUL_SHUTDOWN_SECONDS = 2


class SandboxServer(ThreadedServer):
    """The sandbox on a real port in a daemon thread: `with SandboxServer(state) as server: ...`."""

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(
            build_app(state),
            name="mono-sandbox",
            host=host,
            port=port,
            graceful_shutdown_seconds=GRACEFUL_SHUTDOWN_SECONDS,
        )
        self.state = state

    def __enter__(self) -> SandboxServer:
        super().__enter__()
        return self


def run_sandbox(state: SandboxState, host: str, port: int, *, on_started: Callable[[str], None] | None = None) -> None:
    """Serves until interrupted (Ctrl-C). `on_started` gets the base URL once the port is bound."""
    serve_forever(
        build_app(state), host, port, graceful_shutdown_seconds=GRACEFUL_SHUTDOWN_SECONDS, on_started=on_started
    )
