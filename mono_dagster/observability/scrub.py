"""Removes secrets and PII from text and structured values before they reach a log line or an event.

What is removed: Mono secret keys (`test_sk_…`, `live_sk_…`, and whatever follows `mono-sec-key`),
bearer tokens (after `Bearer`, or JWT-shaped anywhere), Slack webhook paths, passwords in URLs, and
every run of 10 or more digits (full account numbers are 10 digits, BVNs 11), which keeps only its last
four digits. Identifiers pass unchanged even when they hold such a run: UUIDs (correlation and run ids)
and hex ids of 24 or more characters with a letter in them (Mono's 24-hex ids, content hashes), so
on-call can still search for them.

`install_log_scrubber` applies this to every log record of the process: its message, its traceback
(`exc_info`, rendered into `exc_text`), its `stack_info` and every string field passed as `extra=`.
`find_leaks` is the check: what in a text scrubbing would still remove (the test suite runs it on every
log line it produces).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

_SECRET_KEY = re.compile(r"\b(?:live|test)_sk_[A-Za-z0-9_\-]+")
_SEC_KEY_HEADER = re.compile(r"(?i)(mono-sec-key[\"']?\s*[:=]\s*[\"']?)([^\s\"',}]+)")
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/=\-]{8,})")
# Slack-compatible incoming-webhook URLs are credentials (httpx logs every request URL at INFO).
_SLACK_WEBHOOK = re.compile(r"(https://hooks\.slack\.com/)([^\s\"'<>]+)")
# Passwords in connection URLs (amqp://user:password@host, postgresql://user:password@host).
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@\"']+:)([^\s@/\"']+)@")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
# An identifier is matched whole first, so the digit runs inside it are left alone.
_IDENTIFIER_OR_LONG_DIGITS = re.compile(
    r"(?P<identifier>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
    r"|\b(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{24,}\b)"
    r"|(?P<digits>\d{10,})"
)


def _mask_digits(match: re.Match[str]) -> str:
    digits = match.group("digits")
    return match.group() if digits is None else "******" + digits[-4:]


def scrub_text(text: str) -> str:
    text = _SECRET_KEY.sub("[secret]", text)
    text = _SEC_KEY_HEADER.sub(r"\1[secret]", text)
    text = _BEARER.sub(r"\1[token]", text)
    text = _JWT.sub("[token]", text)
    text = _SLACK_WEBHOOK.sub(r"\1[secret]", text)
    text = _URL_PASSWORD.sub(r"\1[secret]@", text)
    return _IDENTIFIER_OR_LONG_DIGITS.sub(_mask_digits, text)


def scrub_value(value: Any) -> Any:
    """The same for JSON-like values: strings scrubbed, containers walked.

    Numbers pass unchanged: they are counts and kobo totals here, and an account number or BVN is
    always a string in Mono's data.
    """
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {key: scrub_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(item) for item in value]
    return value


# What a scrubbed text holds where a secret was; a match whose secret part is this is no leak.
_PLACEHOLDER = "[secret]"


def find_leaks(text: str) -> list[str]:
    """Every secret, token or full number in `text` that `scrub_text` would remove (empty: the text is clean).

    The secret-key, bearer and JWT patterns, a `mono-sec-key`, webhook path or URL password that is not
    `[secret]`, and every run of 10 or more digits outside a UUID or hex identifier.
    """
    leaks = [match.group() for pattern in (_SECRET_KEY, _JWT) for match in pattern.finditer(text)]
    leaks += [match.group(2) for match in _BEARER.finditer(text)]
    for pattern in (_SEC_KEY_HEADER, _SLACK_WEBHOOK, _URL_PASSWORD):
        leaks += [match.group(2) for match in pattern.finditer(text) if match.group(2) != _PLACEHOLDER]
    leaks += [digits for match in _IDENTIFIER_OR_LONG_DIGITS.finditer(text) if (digits := match.group("digits"))]
    return leaks


# A record's attributes that are not `extra=` fields.
RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}
# Renders tracebacks the way `logging.Formatter` does, so the scrubbed text is what a formatter would print.
_TRACEBACKS = logging.Formatter()


class _ScrubbedAttributes(dict[str, Any]):
    """A log record's `__dict__` that scrubs the strings written into it by subscript.

    `Logger.makeRecord` adds `extra=` fields with `record.__dict__[key] = value` after the record
    factory has returned, and `logging.makeLogRecord` with `record.__dict__.update(...)`: both land
    here. Plain attribute assignment (`record.msg = ...`) does not go through this class.
    """

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, scrub_text(value) if isinstance(value, str) else value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (dict(self),)  # a pickled or copied record carries a plain dict


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Scrubs a record in place: its message, traceback, stack and string `extra=` fields.

    The traceback is rendered into `exc_text`, scrubbed: `logging.Formatter.format` prints `exc_text`
    when it is set instead of rendering `exc_info` again. `exc_info` itself is kept, because Dagster's
    log handler re-logs a record to the run's loggers with `exc_info=record.exc_info` (that new record
    passes through here too); clearing it dropped every traceback from the run's console and compute logs.
    """
    try:
        message: str | None = record.getMessage()
    except Exception:  # a malformed format string: let logging report it as usual
        message = None
    if message is not None:
        record.msg, record.args = scrub_text(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = _TRACEBACKS.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = scrub_text(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub_text(record.stack_info)
    for key, value in list(record.__dict__.items()):
        if key not in RECORD_ATTRIBUTES and isinstance(value, str):
            record.__dict__[key] = scrub_text(value)
    if type(record.__dict__) is dict:
        record.__dict__ = _ScrubbedAttributes(record.__dict__)
    return record


_installed = threading.Lock()
_previous_factory: Callable[..., logging.LogRecord] | None = None


def install_log_scrubber() -> None:
    """Scrubs every log record created in this process (ours, Dagster's, httpx's). Idempotent."""
    global _previous_factory
    with _installed:
        if _previous_factory is not None:
            return
        previous = logging.getLogRecordFactory()

        def scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return scrub_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(scrubbing_factory)
        _previous_factory = previous
