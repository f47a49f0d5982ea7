"""Runs an ASGI app under uvicorn: `ThreadedServer` in a daemon thread (tests, demo, benchmarks) and
`serve_forever` in the foreground (the CLI). Used by the Mono sandbox and the webhook receiver.

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
from starlette.types import ASGIApp

STARTUP_TIMEOUT_SECONDS = 10.0
BACKLOG = 2048


def bind_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening now (uvicorn listens again, harmlessly): a client told the URL is queued, not refused.
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def url_for(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard bind is reached through loopback
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _PromptServer(uvicorn.Server):
    """uvicorn checks `should_exit` every 100 ms; tests start and stop servers often, so check every 10 ms."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            await asyncio.sleep(0.01)


def build_server(app: ASGIApp, *, quiet: bool, graceful_shutdown_seconds: int) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        lifespan="off",
        access_log=not quiet,
        log_level="warning" if quiet else "info",
        # In-process servers leave the host's logging alone (tests capture it); the CLI gets uvicorn's.
        log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
        timeout_graceful_shutdown=graceful_shutdown_seconds,
        backlog=BACKLOG,
    )
    return _PromptServer(config)


class ThreadedServer:
    """`app` on a real port in a daemon thread: `with ThreadedServer(app, name=...) as server: server.base_url`."""

    def __init__(
        self, app: ASGIApp, *, name: str, host: str = "127.0.0.1", port: int = 0, graceful_shutdown_seconds: int = 5
    ) -> None:
        self.app = app
        self.name = name
        self.host = host
        self.port = port
        self.base_url = ""  # set once the server listens
        self.graceful_shutdown_seconds = graceful_shutdown_seconds
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def __enter__(self) -> ThreadedServer:
        self._socket = bind_socket(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        self.base_url = url_for(self.host, self.port)
        self._server = build_server(self.app, quiet=True, graceful_shutdown_seconds=self.graceful_shutdown_seconds)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=self.name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"{self.name} did not start on {self.base_url}")
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
            self._thread.join(timeout=self.graceful_shutdown_seconds + 3)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None


def serve_forever(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    graceful_shutdown_seconds: int,
    on_started: Callable[[str], None] | None = None,
) -> None:
    """Serves until interrupted (Ctrl-C or SIGTERM); `on_started` gets the base URL once the port is bound."""
    sock = bind_socket(host, port)
    try:
        if on_started is not None:
            on_started(url_for(host, sock.getsockname()[1]))
        build_server(app, quiet=False, graceful_shutdown_seconds=graceful_shutdown_seconds).run(sockets=[sock])
    finally:
        sock.close()
