"""JSON log lines on the `mono-pipeline` stream, for Loki: one object per line with the run's context.

Context travels as `extra=` fields: `correlation_id`, `run_id`, `account_id`, `stage`, `event`.
Messages are already scrubbed by `install_log_scrubber` when they reach this formatter.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from mono_dagster.observability.scrub import install_log_scrubber, scrub_value

STREAM = "mono-pipeline"
CONTEXT_FIELDS = ("correlation_id", "run_id", "account_id", "stage", "event")


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "stream": STREAM,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = scrub_value(value)
        if record.exc_info:
            line["exception"] = scrub_value(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


def configure_json_logging(level: int = logging.INFO) -> logging.Handler:
    """Sends the `mono_dagster` loggers to stderr as JSON lines (scrubbed). Returns the handler."""
    install_log_scrubber()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger("mono_dagster")
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler
