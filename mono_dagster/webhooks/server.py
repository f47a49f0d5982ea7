"""Runs the receiver under uvicorn: `WebhookServer` in a daemon thread (tests, demo), `serve` in the foreground."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette

from mono_dagster.asgi_server import ThreadedServer, serve_forever
from mono_dagster.webhooks.app import WEBHOOK_PATH

GRACEFUL_SHUTDOWN_SECONDS = 5


class WebhookServer(ThreadedServer):
    """The receiver on a real port in a daemon thread: `with WebhookServer(app) as server: server.webhook_url`."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(
            app, name="mono-webhooks", host=host, port=port, graceful_shutdown_seconds=GRACEFUL_SHUTDOWN_SECONDS
        )

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    def __enter__(self) -> WebhookServer:
        super().__enter__()
        return self


def serve(app: Starlette, host: str, port: int, *, on_started: Callable[[str], None] | None = None) -> None:
    """Serves until interrupted (Ctrl-C); `on_started` gets the base URL once the port is bound."""
    serve_forever(app, host, port, graceful_shutdown_seconds=GRACEFUL_SHUTDOWN_SECONDS, on_started=on_started)
