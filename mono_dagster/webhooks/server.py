"""Runs the receiver under uvicorn: `WebhookServer` in a daemon thread (tests, demo), `serve` in the foreground.

The socket is bound here, before uvicorn starts, so the real port of `port=0` is known at once.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from mono_dagster.webhooks.app import WEBHOOK_PATH

STARTUP_TIMEOUT_SECONDS = 10.0
GRACEFUL_SHUTDOWN_SECONDS = 5


def bind_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening now (uvicorn listens again, harmlessly): a client told the URL is queued, not refused.
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def url_for(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard bind is reached through loopback
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(app: Starlette, *, quiet: bool) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        lifespan="off",
        access_log=not quiet,
        log_level="warning" if quiet else "info",
        log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        backlog=2048,
    )
    return uvicorn.Server(config)


class WebhookServer:
    """The receiver on a real port in a daemon thread: `with WebhookServer(app) as server: server.url`."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    def __enter__(self) -> WebhookServer:
        self._socket = bind_socket(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        self.base_url = url_for(self.host, self.port)
        self._server = _server(self.app, quiet=True)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="mono-webhooks", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"the webhook receiver did not start on {self.base_url}")
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


def serve(app: Starlette, host: str, port: int, *, on_started: Callable[[str], None] | None = None) -> None:
    """Serves until interrupted (Ctrl-C); `on_started` gets the base URL once the port is bound."""
    sock = bind_socket(host, port)
    try:
        if on_started is not None:
            on_started(url_for(host, sock.getsockname()[1]))
        _server(app, quiet=False).run(sockets=[sock])
    finally:
        sock.close()
