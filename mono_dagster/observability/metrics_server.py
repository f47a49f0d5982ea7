"""`/metrics` for the project's long-running processes.

* The Dagster code location server: `start_metrics_server_from_env()` (called when `definitions.py` is
  imported) starts `prometheus_client`'s HTTP server once per process on `MONO_METRICS_PORT`, so what
  sensors and schedules record is scrapable. Never in a Dagster run or step worker, `dagster definitions
  validate` or the `mono-dagster` CLI: runs push their metrics to the Pushgateway (`observability/push.py`),
  and the same counters scraped from a short-lived worker as well would be counted twice by the alert
  rules' `sum(...)`. A port already taken is a logged warning, never a failed code location.
* ASGI apps (the webhook receiver, the event relay): `metrics_asgi_app()` to mount at `/metrics`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from prometheus_client import REGISTRY, CollectorRegistry, make_asgi_app, start_http_server

logger = logging.getLogger(__name__)

METRICS_PORT_ENV: Final = "MONO_METRICS_PORT"
METRICS_ADDRESS: Final = "0.0.0.0"  # noqa: S104 - Prometheus scrapes from another host
# `dagster api <command>` processes that execute runs or steps (they push instead of serving).
_WORKER_COMMANDS: Final = frozenset(
    {"execute_run", "execute_step", "execute_run_with_structured_logs", "resume_run", "execute_plan"}
)

_lock = threading.Lock()
_serving_port: int | None = None


def _not_serving_reason(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    if _WORKER_COMMANDS.intersection(argv):
        return "a Dagster run/step worker pushes its metrics instead"
    if environ.get("DAGSTER_IS_DEFS_VALIDATION_CLI"):
        return "`dagster definitions validate` is not a long-running process"
    if argv and os.path.basename(argv[0]) == "mono-dagster":
        return "the mono-dagster CLI serves its own metrics where it runs long"
    return None


def start_metrics_server(port: int, address: str = METRICS_ADDRESS) -> int | None:
    """Serves the default registry on `port` once per process; returns the port served, None on failure."""
    global _serving_port
    with _lock:
        if _serving_port is not None:
            return _serving_port
        try:
            server, _thread = start_http_server(port, addr=address)
        except OSError as exc:
            logger.warning("could not serve /metrics on %s:%s (%s); the process goes on without it", address, port, exc)
            return None
        _serving_port = int(server.server_port)
    logger.info("serving Prometheus metrics on %s:%s/metrics", address, _serving_port)
    return _serving_port


def start_metrics_server_from_env(
    environ: Mapping[str, str] | None = None, argv: Sequence[str] | None = None
) -> int | None:
    """`start_metrics_server` on `MONO_METRICS_PORT` when it is set and this is a long-running process."""
    environ = os.environ if environ is None else environ
    raw = environ.get(METRICS_PORT_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        logger.warning("%s=%r is not a TCP port; not serving /metrics", METRICS_PORT_ENV, raw)
        return None
    reason = _not_serving_reason(sys.argv if argv is None else argv, environ)
    if reason is not None:
        logger.debug("not serving /metrics in this process: %s", reason)
        return None
    return start_metrics_server(int(raw))


def metrics_asgi_app(registry: CollectorRegistry = REGISTRY) -> Callable[..., Any]:
    """An ASGI app answering Prometheus scrapes, e.g. `Mount("/metrics", app=metrics_asgi_app())` in Starlette."""
    return make_asgi_app(registry=registry)
