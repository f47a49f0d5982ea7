"""The session-wide leak check (conftest.py) sees every part of a record and masks what it reports."""

from __future__ import annotations

import logging
import sys

from mono_dagster_tests.conftest import LeakCheck

ACCOUNT_NUMBER = "0131883461"
SECRET = "test_sk_leak_check_probe"


def _raw_record(message: str, **extra: str) -> logging.LogRecord:
    """A record made without the record factory, so the scrubber never sees it (nor the session's check)."""
    record = logging.LogRecord("mono_dagster.probe", logging.ERROR, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return record


def test_a_leak_in_the_message_an_extra_field_or_a_traceback_is_reported_masked():
    check = LeakCheck()
    check.current = "probe::test"
    check.handle(_raw_record(f"acct {ACCOUNT_NUMBER}"))
    check.handle(_raw_record("clean", account_id=ACCOUNT_NUMBER))
    traceback = _raw_record("clean too")
    try:
        raise RuntimeError(f"refused {SECRET}")
    except RuntimeError:
        traceback.exc_info = sys.exc_info()
    check.handle(traceback)
    assert [where for where, _ in check.leaks] == ["probe::test"] * 3
    report = "\n".join(check.report())
    assert ACCOUNT_NUMBER not in report and SECRET not in report
    assert "acct ******3461" in report and "account_id=******3461" in report and "[secret]" in report


def test_clean_records_and_identifiers_pass():
    check = LeakCheck()
    check.handle(_raw_record("run 0f8a509b-6f5c-4edf-b209-426614174000 account 66141b98e3a4c50a1b2c3d4e done"))
    check.handle(_raw_record("masked ******3461", stage="sync"))
    assert check.leaks == [] and check.records == 2
