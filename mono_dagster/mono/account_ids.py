"""The one rule for what a Mono account id may look like, checked before an id reaches a URL.

Mono's account ids are 24-hex ObjectIds in practice (`docs.mono.co`, and every id the sandbox makes),
but Mono documents no format, so the rule is the safe superset rather than the exact shape: 1 to 64
ASCII letters, digits, `-` and `_`. Those are the characters of a URL path segment that need no
escaping and mean nothing to a path, so an accepted id can never change which endpoint is called (no
`/`, `.` or `..`), start a query or fragment (`?`, `#`), smuggle an escape (`%`) or carry quotes,
whitespace or control characters. 64 is the registry's column width (`mono_accounts.account_id`).

A refused value is named in the error as a short, escaped, scrubbed preview: the message stays one
line, bounded in length, and never prints a full account number someone pasted by mistake.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mono_dagster.mono.errors import MonoRequestError
from mono_dagster.observability.scrub import scrub_text

MAX_ACCOUNT_ID_LENGTH = 64
_ACCOUNT_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_ACCOUNT_ID_LENGTH}}}")
_PREVIEW_CHARACTERS = 32


class InvalidAccountIdError(MonoRequestError, ValueError):
    """A value that is not a Mono account id; nothing was sent to Mono.

    A `MonoRequestError` (retrying cannot help, and the sync fails only that account) and a
    `ValueError` (the CLI turns it into one line and exit code 2).
    """


def is_valid_account_id(value: object) -> bool:
    return isinstance(value, str) and _ACCOUNT_ID.fullmatch(value) is not None


def validate_account_id(value: object) -> str:
    """The id itself when it follows the rule above; else InvalidAccountIdError naming it safely."""
    if is_valid_account_id(value):
        return value  # type: ignore[return-value]
    raise InvalidAccountIdError(
        f"{describe_value(value)} is not a Mono account id "
        f"(1 to {MAX_ACCOUNT_ID_LENGTH} letters, digits, '-' or '_'; Mono's are 24 hex characters)"
    )


def validate_account_ids(values: Iterable[object]) -> tuple[str, ...]:
    """Every value validated, in order, each id once; the first bad one raises."""
    return tuple(dict.fromkeys(validate_account_id(value) for value in values))


def describe_value(value: object) -> str:
    """A one-line, bounded, scrubbed rendering of a refused value: `repr` escapes control characters."""
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    if not value:
        return "an empty value"
    shown = repr(value[:_PREVIEW_CHARACTERS])
    if len(value) > _PREVIEW_CHARACTERS:
        shown += f"... ({len(value)} characters)"
    return scrub_text(shown)
