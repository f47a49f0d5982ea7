"""JSON log lines on the `mono-pipeline` stream, for Loki: one object per line with the run's context.

Context travels as `extra=` fields: `correlation_id`, `run_id`, `account_id`, `stage`, `event`.
Messages are already scrubbed by `install_log_scrubber` when they reach this formatter;
`mono-dagster --json-logs ...` logs this way.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from mono_dagster.observability.scrub import scrub_value

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
