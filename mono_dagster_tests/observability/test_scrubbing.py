"""Attempts to leak a secret key, a full account number, a BVN and a bearer token through every path."""

from __future__ import annotations

import io
import json
import logging

import pytest
import sqlalchemy as sa

from mono_dagster.observability.logs import STREAM, JsonLineFormatter
from mono_dagster.observability.scrub import install_log_scrubber, scrub_text, scrub_value
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
