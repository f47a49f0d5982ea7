"""Attempts to leak a secret key, a full account number, a BVN and a bearer token through every path."""

from __future__ import annotations

import copy
import io
import json
import logging
import pickle
import sys

import pytest
import sqlalchemy as sa

from mono_dagster.observability.logs import STREAM, JsonLineFormatter
from mono_dagster.observability.scrub import find_leaks, install_log_scrubber, scrub_text, scrub_value
from mono_dagster.storage.engine import create_db_engine, dispose_engines
from mono_dagster.storage.migrate import upgrade_database
from mono_dagster.storage.outbox import PipelineEvent, append_events
from mono_dagster.storage.tables import pipeline_events

SECRET = "live_sk_q8Wm2ZrT0b6xY4nP"
ACCOUNT_NUMBER = "0131883461"
BVN = "22156789012"
BEARER = "eyJhbGciOiJIUzI1NiJ9.payload.signature"
LEAKS = [SECRET, ACCOUNT_NUMBER, BVN, BEARER]
MESSAGE = (
    f"calling Mono with mono-sec-key: {SECRET} for account number {ACCOUNT_NUMBER}, "
    f"BVN {BVN}, Authorization: Bearer {BEARER}"
)


@pytest.fixture()
def captured() -> io.StringIO:
    install_log_scrubber()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger("mono_dagster.test_leaks")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)


def test_scrub_text_removes_each_kind_and_keeps_the_last_four_digits():
    scrubbed = scrub_text(MESSAGE)
    for leak in LEAKS:
        assert leak not in scrubbed
    assert "******3461" in scrubbed and "******9012" in scrubbed
    assert "[secret]" in scrubbed and "[token]" in scrubbed
    assert scrub_text("account 66141b98e3a4c50a1b2c3d4e window 2024-01-01..2024-01-31") == (
        "account 66141b98e3a4c50a1b2c3d4e window 2024-01-01..2024-01-31"
    ), "Mono ids and dates pass unchanged"


def test_identifiers_whose_digits_look_like_an_account_number_pass_unchanged():
    correlation = "0f8a509b-6f5c-4edf-b209-426614174000"  # its last group is 12 digits
    mono_id = "5f171a5302951234567890ab"  # a 24-hex id with a 10-digit run inside
    content_hash = "ab" + "1234567890" * 6 + "cd"
    for identifier in (correlation, mono_id, content_hash):
        assert scrub_text(f"run {identifier} done") == f"run {identifier} done"


def test_webhook_urls_and_url_passwords_are_removed():
    line = 'HTTP Request: POST https://hooks.slack.com/services/T0001/B0002/abcdefSECRET "HTTP/1.1 200 OK"'
    assert "abcdefSECRET" not in scrub_text(line) and "https://hooks.slack.com/[secret]" in scrub_text(line)
    broker = scrub_text("broker unavailable at amqp://relay:s3cr3t-pass@rabbit:5672/%2F")
    assert "s3cr3t-pass" not in broker and "amqp://relay:[secret]@rabbit:5672/%2F" in broker
    assert scrub_text("see https://example.com/a:b") == "see https://example.com/a:b"


def test_account_numbers_next_to_identifiers_are_still_masked():
    scrubbed = scrub_text("account_number=0123456789 correlation 0f8a509b-6f5c-4edf-b209-426614174000 bvn:22334455667")
    assert "0123456789" not in scrubbed and "22334455667" not in scrubbed
    assert "******6789" in scrubbed and "******5667" in scrubbed
    assert "0f8a509b-6f5c-4edf-b209-426614174000" in scrubbed
    assert scrub_text("acct1234567890") == "acct******7890", "a letter-prefixed number is not an identifier"
    assert scrub_text("1234567890123456789012345") == "******2345", "all digits is never an identifier"


@pytest.mark.parametrize("leak", LEAKS)
def test_a_log_line_never_carries_a_secret_or_pii(captured, leak):
    logger = logging.getLogger("mono_dagster.test_leaks")
    logger.error("leak attempt: %s", leak, extra={"account_id": "66141b98e3a4c50a1b2c3d4e", "stage": "sync"})
    logger.warning(MESSAGE)
    logger.info("in an f-string too: " + leak)
    try:
        raise RuntimeError(f"exception carrying {leak}")
    except RuntimeError:
        logger.exception("failed")
    output = captured.getvalue()
    assert leak not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert all(line["stream"] == STREAM for line in lines)
    assert lines[0]["account_id"] == "66141b98e3a4c50a1b2c3d4e" and lines[0]["stage"] == "sync"


def test_other_libraries_log_records_are_scrubbed_too(captured):
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    logging.getLogger("httpx").addHandler(keep)
    try:
        logging.getLogger("httpx").warning("HTTP Request with key %s", SECRET)
    finally:
        logging.getLogger("httpx").removeHandler(keep)
    assert records and SECRET not in records[0].getMessage()


def test_event_payloads_are_scrubbed_before_they_reach_the_outbox(tmp_path):
    url = f"sqlite:///{tmp_path / 'outbox.sqlite'}"
    upgrade_database(url)
    engine = create_db_engine(url)
    payload = {"message": MESSAGE, "nested": [{"number": ACCOUNT_NUMBER}], "amount_minor_total": 123456789012}
    with engine.begin() as conn:
        append_events(
            conn,
            [
                PipelineEvent(
                    event_name="mono.fetch.failed",
                    account_id="a",
                    correlation_id="c",
                    run_id="r",
                    partition_key=None,
                    payload=payload,
                )
            ],
        )
    with engine.connect() as conn:
        stored = conn.execute(sa.select(pipeline_events.c.payload)).scalar_one()
    dispose_engines()
    for leak in LEAKS:
        assert leak not in stored
    assert json.loads(stored)["amount_minor_total"] == 123456789012, "numbers are amounts, not PII"
    assert scrub_value({"k": [ACCOUNT_NUMBER]}) == {"k": ["******3461"]}


def _raise_with(leak: str) -> None:
    raise RuntimeError(f"key {SECRET} acct {ACCOUNT_NUMBER} carrying {leak}")


@pytest.mark.parametrize("leak", LEAKS)
def test_tracebacks_stacks_and_extra_fields_are_scrubbed_under_a_plain_formatter(leak):
    install_log_scrubber()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    # What logging.basicConfig(format=...) sets up, with the context fields in the format.
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s run=%(run_id)s account=%(account_id)s"))
    logger = logging.getLogger("mono_dagster.test_plain_leaks")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        try:
            _raise_with(leak)
        except RuntimeError:
            logger.exception("failed", extra={"run_id": f"run of {leak}", "account_id": ACCOUNT_NUMBER})
        logger.warning("where", extra={"run_id": leak, "account_id": BVN}, stack_info=True)
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    for each in LEAKS:
        assert each not in output, output
    assert "RuntimeError: key [secret] acct ******3461" in output, "the traceback is still printed"
    assert "account=******3461" in output and "account=******9012" in output
    assert "Stack (most recent call last)" in output
    assert find_leaks(output) == []


def test_a_scrubbed_record_carries_its_traceback_as_text_only():
    install_log_scrubber()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    logger = logging.getLogger("mono_dagster.test_record")
    logger.addHandler(keep)
    try:
        try:
            _raise_with(SECRET)
        except RuntimeError:
            logger.error("failed", exc_info=True, extra={"event": f"mono.fetch.failed {ACCOUNT_NUMBER}"})
    finally:
        logger.removeHandler(keep)
    [record] = records
    assert record.exc_info is not None, "kept for Dagster's handler, which re-logs it (through the scrubber)"
    assert record.exc_text and SECRET not in record.exc_text and "RuntimeError" in record.exc_text
    rendered = logging.Formatter("%(message)s").format(record)
    assert "RuntimeError" in rendered and SECRET not in rendered, "a formatter prints the scrubbed exc_text"
    assert record.event == "mono.fetch.failed ******3461"
    shipped = copy.copy(record)
    shipped.exc_info = None  # what logging.handlers.QueueHandler.prepare does before pickling a record
    assert type(shipped.__dict__) is dict and pickle.loads(pickle.dumps(shipped)).event == record.event
    made = logging.makeLogRecord({"msg": "made", "correlation_id": f"c {ACCOUNT_NUMBER}"})
    assert made.correlation_id == "c ******3461", "logging.makeLogRecord's fields are scrubbed too"


def test_the_json_formatter_scrubs_tracebacks_stacks_and_context_fields(captured):
    logger = logging.getLogger("mono_dagster.test_leaks")
    try:
        _raise_with(BEARER)
    except RuntimeError:
        logger.exception(
            "failed", extra={"correlation_id": f"c {ACCOUNT_NUMBER}", "stage": SECRET, "event": "mono.fetch.failed"}
        )
    logger.info("here", stack_info=True)
    output = captured.getvalue()
    for leak in LEAKS:
        assert leak not in output
    failed, here = (json.loads(line) for line in output.splitlines())
    assert "RuntimeError: key [secret] acct ******3461" in failed["exception"]
    assert failed["correlation_id"] == "c ******3461" and failed["stage"] == "[secret]"
    assert here["stack"].startswith("Stack (most recent call last)")


def test_the_json_formatter_scrubs_a_record_the_scrubber_never_saw():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "acct %s", (ACCOUNT_NUMBER,), None)
    try:
        _raise_with(SECRET)
    except RuntimeError:
        record.exc_info = sys.exc_info()
    record.account_id = BVN
    line = JsonLineFormatter().format(record)
    assert find_leaks(line) == [] and "******3461" in line and "******9012" in line


def test_find_leaks_names_each_kind_and_nothing_once_scrubbed():
    found = find_leaks(MESSAGE)
    assert SECRET in found and ACCOUNT_NUMBER in found and BVN in found and BEARER in found
    assert find_leaks(scrub_text(MESSAGE)) == []
    for text in (
        "https://hooks.slack.com/services/T0001/B0002/abcdefSECRET",
        "amqp://relay:s3cr3t-pass@rabbit:5672/%2F",
        'headers {"mono-sec-key": "abc123"}',
        "Authorization: Bearer abcdefgh12",
        "test_sk_abc",
    ):
        assert find_leaks(text), text
        assert find_leaks(scrub_text(text)) == [], scrub_text(text)
    identifiers = "run 0f8a509b-6f5c-4edf-b209-426614174000 account 5f171a5302951234567890ab at 2024-01-01 12:00:00"
    assert find_leaks(identifiers) == []


def test_a_dagster_op_logging_an_exception_keeps_its_traceback_scrubbed(capfd):
    """Dagster re-logs each record with its exc_info to the run's console logger: the traceback must survive."""
    import dagster as dg

    @dg.op
    def fails_and_logs(context) -> None:
        try:
            _raise_with(SECRET)
        except RuntimeError:
            context.log.exception("fetch blew up")

    @dg.job
    def logs_an_exception() -> None:
        fails_and_logs()

    assert logs_an_exception.execute_in_process().success
    err = capfd.readouterr().err
    assert "fetch blew up" in err and "RuntimeError" in err, "the traceback reaches the run's console log"
    assert SECRET not in err
