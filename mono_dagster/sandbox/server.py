"""Runs the sandbox app under uvicorn: `SandboxServer` in a daemon thread (tests, demo, benchmarks) and
`run_sandbox` in the foreground (the CLI).

The listening socket is bound here, before uvicorn starts, so the real port of `port=0` is known at once.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn

from mono_dagster.sandbox.app import build_app
from mono_dagster.sandbox.state import SandboxState

STARTUP_TIMEOUT_SECONDS = 10.0
# A "slow" fault keeps its request open; shutdown waits this long for such requests.
GRACEFUL_SHUTDOWN_SECONDS = 2


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def base_url_for(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard bind is reached through loopback
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _PromptServer(uvicorn.Server):
    """uvicorn checks `should_exit` every 100 ms; tests start and stop a sandbox each, so check every 10 ms.

    Halves the time to stop (about 0.2 s to 0.1 s; the rest is uvicorn's fixed shutdown pause).
    """

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            await asyncio.sleep(0.01)


def _uvicorn_server(state: SandboxState, *, quiet: bool) -> uvicorn.Server:
    config = uvicorn.Config(
        build_app(state),
        lifespan="off",
        access_log=not quiet,
        log_level="warning" if quiet else "info",
        # In-process servers leave the host's logging alone (tests capture it); the CLI gets uvicorn's.
        log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return _PromptServer(config)


class SandboxServer:
    """The sandbox on a real port in a daemon thread: `with SandboxServer(state) as server: ...`."""

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.host = host
        self.port = port
        self.base_url = ""  # set once the server listens
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def __enter__(self) -> SandboxServer:
        self._socket = bind_socket(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        self.base_url = base_url_for(self.host, self.port)
        self._server = _uvicorn_server(self.state, quiet=True)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="mono-sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"the Mono sandbox did not start on {self.base_url}")
            time.sleep(0.005)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS + 3)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None


def run_sandbox(state: SandboxState, host: str, port: int, *, on_started: Callable[[str], None] | None = None) -> None:
    """Serves until interrupted (Ctrl-C). `on_started` gets the base URL once the port is bound."""
    sock = bind_socket(host, port)
    try:
        if on_started is not None:
            on_started(base_url_for(host, sock.getsockname()[1]))
        _uvicorn_server(state, quiet=False).run(sockets=[sock])
    finally:
        sock.close()
