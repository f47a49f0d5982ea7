"""Removes secrets and PII from text and structured values before they reach a log line or an event.

What is removed: Mono secret keys (`test_sk_…`, `live_sk_…`, and whatever follows `mono-sec-key`),
bearer tokens (after `Bearer`, or JWT-shaped anywhere), Slack webhook paths, passwords in URLs, and
every run of 10 or more digits (full account numbers are 10 digits, BVNs 11), which keeps only its last
four digits. Identifiers pass unchanged even when they hold such a run: UUIDs (correlation and run ids)
and hex ids of 24 or more characters with a letter in them (Mono's 24-hex ids, content hashes), so
on-call can still search for them.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

_SECRET_KEY = re.compile(r"\b(?:live|test)_sk_[A-Za-z0-9_\-]+")
_SEC_KEY_HEADER = re.compile(r"(?i)(mono-sec-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]{8,}")
# Slack-compatible incoming-webhook URLs are credentials (httpx logs every request URL at INFO).
_SLACK_WEBHOOK = re.compile(r"(https://hooks\.slack\.com/)[^\s\"'<>]+")
# Passwords in connection URLs (amqp://user:password@host, postgresql://user:password@host).
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@\"']+:)[^\s@/\"']+@")
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
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a malformed format string: let logging report it as usual
                return record
            record.msg, record.args = scrub_text(message), None
            return record

        logging.setLogRecordFactory(scrubbing_factory)
        _previous_factory = previous
