"""One line saying why a run failed: each failed step and its own exception's first line.

Dagster's run failure message only lists the failed steps ("Steps failed: ['bank_transactions']"), and
the step's error is Dagster's wrapper around the exception that mattered, so an operator reading the
CLI's progress line would not learn that, say, the database connection was terminated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from mono_dagster.observability.scrub import scrub_text

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

# Dagster's own wrappers around the exception a step raised: the cause is what the operator needs.
_WRAPPERS = ("DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError")


def run_failure_summary(result: dg.ExecuteInProcessResult) -> str:
    steps = [
        f"{event.step_key}: {_first_line(event.step_failure_data.error)}"
        for event in result.get_step_failure_events()
        if event.step_failure_data.error is not None
    ]
    if steps:
        return scrub_text("; ".join(steps))
    failure = result.get_run_failure_event()
    return scrub_text(failure.message) if failure is not None and failure.message else "run failed"


def _first_line(error: SerializableErrorInfo) -> str:
    while error.cause is not None and error.cls_name in _WRAPPERS:
        error = error.cause
    line = next((text.strip() for text in error.message.splitlines() if text.strip()), error.cls_name or "error")
    # "sqlalchemy.exc.OperationalError: ..." -> "OperationalError: ...": the module path is noise here.
    head, separator, rest = line.partition(": ")
    return f"{head.rsplit('.', 1)[-1]}{separator}{rest}" if separator and " " not in head else line
