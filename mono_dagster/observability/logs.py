"""JSON log lines on the `mono-pipeline` stream, for Loki: one object per line with the run's context.

Context travels as `extra=` fields: `correlation_id`, `run_id`, `account_id`, `stage`, `event`.
Messages, tracebacks and those fields are already scrubbed by `install_log_scrubber` when they reach
this formatter (it scrubs them again). Who writes the stream: `mono-dagster --json-logs ...` (or any
command with `MONO_LOG_FORMAT=json`), and with `MONO_LOG_FORMAT=json` every process that loads the code
location (code server, run workers, daemon), on stderr, for the `mono_dagster` loggers.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from mono_dagster.observability.scrub import scrub_text, scrub_value
from mono_dagster.settings import Settings

STREAM = "mono-pipeline"
CONTEXT_FIELDS = ("correlation_id", "run_id", "account_id", "stage", "event")
LOG_FORMAT_ENV = "MONO_LOG_FORMAT"
PIPELINE_LOGGER = "mono_dagster"


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "stream": STREAM,
            "logger": record.name,
            "message": scrub_text(record.getMessage()),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = scrub_value(value)
        # The scrubber renders the traceback, scrubbed, into exc_text; records it never saw have only exc_info.
        exception = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else None)
        if exception:
            line["exception"] = scrub_text(exception)
        if record.stack_info:
            line["stack"] = scrub_text(record.stack_info)
        return json.dumps(line, default=str)


def log_format_from_env(environ: Mapping[str, str] | None = None) -> str:
    """`MONO_LOG_FORMAT`: `text` (default) or `json`; any other value is a `SettingsError` naming it."""
    env = environ if environ is not None else os.environ
    return Settings.from_env({LOG_FORMAT_ENV: env.get(LOG_FORMAT_ENV, "")}).log_format


def _writes_json(logger: logging.Logger) -> bool:
    """Whether the logger or one it propagates to already has a JSON-lines handler."""
    current: logging.Logger | None = logger
    while current is not None:
        if any(isinstance(handler.formatter, JsonLineFormatter) for handler in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False


def install_json_logs(logger_name: str = PIPELINE_LOGGER, stream: IO[str] | None = None) -> bool:
    """Writes the logger's records as JSON lines to `stream` (stderr); False when it already does. Idempotent.

    An unset level becomes INFO, so the stream carries the pipeline's progress, not only its warnings.
    """
    logger = logging.getLogger(logger_name)
    if _writes_json(logger):
        return False
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return True


def configure_log_format_from_env(environ: Mapping[str, str] | None = None) -> None:
    """With `MONO_LOG_FORMAT=json`, the `mono_dagster` loggers also write the `mono-pipeline` stream on stderr."""
    if log_format_from_env(environ) == "json":
        install_json_logs()
