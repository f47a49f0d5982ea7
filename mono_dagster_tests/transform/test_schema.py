"""The Pandera contract passes every batch the transform makes and fails frames a caller corrupted."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pandas as pd
import pytest

from mono_dagster.records import CANONICAL_COLUMNS
from mono_dagster.transform import CanonicalTransactionSchema, validate_canonical
from mono_dagster.transform.schema import FAILURE_SAMPLE_COLUMNS
from mono_dagster_tests.transform.builders import (
    ACCOUNT_NUMBER,
    canonicalise,
    legacy_transaction,
    v1_transaction,
    v2_transaction,
)


@pytest.fixture()
def valid() -> pd.DataFrame:
    batch = canonicalise(
        v2_transaction(id="a", type="debit"),
        v1_transaction(id="b"),
        legacy_transaction(_id="c", date="2023-12-31T23:30:00Z"),
        v2_transaction(id="d", balance=None, category=None, narration=None),
    )
    assert batch.quarantined.empty
    return batch.valid


def test_transform_output_passes(valid):
    report = validate_canonical(valid)
    assert report.passed
    assert report.num_failures == 0
    assert report.failure_sample.empty
    assert tuple(report.failure_sample.columns) == FAILURE_SAMPLE_COLUMNS


def test_an_empty_batch_passes():
    assert validate_canonical(canonicalise().valid).passed


def test_schema_lists_the_contract_columns_in_order():
    assert tuple(CanonicalTransactionSchema.columns) == CANONICAL_COLUMNS


def _set(column: str, value: object, row: int = 0) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def corrupt(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return corrupt


CORRUPTIONS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "duplicate row": lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True),
    "transaction_id not a UUID": _set("transaction_id", "not-a-uuid"),
    "transaction_id a UUIDv4": _set("transaction_id", "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"),
    "transaction_id upper-case": lambda f: f.assign(transaction_id=f["transaction_id"].str.upper()),
    "transaction_id with a trailing newline": lambda f: f.assign(transaction_id=f["transaction_id"] + "\n"),
    "zero amount": lambda f: f.assign(amount_minor=f["amount_minor"].where(f.index != 0, 0)),
    "negative amount": lambda f: f.assign(amount_minor=-f["amount_minor"]),
    "direction refund": _set("direction", "refund"),
    "debit with a positive signed amount": lambda f: f.assign(signed_amount_minor=f["amount_minor"]),
    "lowercase currency": _set("currency", "ngn"),
    "unknown currency": _set("currency", "XYZ"),
    "full account number": _set("account_number_masked", ACCOUNT_NUMBER),
    "content_hash not hex": _set("content_hash", "z" * 64),
    "content_hash too short": lambda f: f.assign(content_hash=f["content_hash"].str[:63]),
    "naive posted_at": lambda f: f.assign(posted_at=f["posted_at"].dt.tz_localize(None)),
    "posted_at in Lagos time": lambda f: f.assign(posted_at=f["posted_at"].dt.tz_convert("Africa/Lagos")),
    "unknown channel": _set("channel", "BITCOIN"),
    "extra column": lambda f: f.assign(account_number="0123456789"),
    "missing column": lambda f: f.drop(columns=["content_hash"]),
    "columns out of order": lambda f: f[list(reversed(f.columns))],
    "float amount": lambda f: f.assign(amount=f["amount"].astype(float)),
    "amount not matching minor units": lambda f: f.assign(amount=f["signed_amount"]),
    "wrong Lagos date": lambda f: f.assign(posted_date_lagos=f["posted_date"]),
    "posted_date as text": lambda f: f.assign(posted_date=f["posted_date"].astype(str)),
    "unmasked narration": _set("narration", f"TRF FROM {ACCOUNT_NUMBER}"),
    "unmasked provider_category": _set("provider_category", ACCOUNT_NUMBER),
    "null narration": _set("narration", None),
    "category not snake_case": _set("category", "Bank Charges"),
    "float amount_minor": lambda f: f.assign(amount_minor=f["amount_minor"].astype(float)),
    "null account_id": _set("account_id", None),
    "account_id not text": _set("account_id", 12345),
    "signed_amount not negated": lambda f: f.assign(signed_amount=f["amount"]),
    "category with a trailing newline": _set("category", "transfer\n"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS), ids=list(CORRUPTIONS))
def test_corrupted_frame_fails(valid, corruption):
    report = validate_canonical(CORRUPTIONS[corruption](valid))
    assert not report.passed
    assert report.num_failures >= 1
    assert 1 <= len(report.failure_sample) <= 20


def test_failure_sample_is_masked_and_at_most_twenty_rows():
    frame = canonicalise(*(v2_transaction(id=f"t{i}") for i in range(30))).valid
    frame["account_number_masked"] = ACCOUNT_NUMBER
    report = validate_canonical(frame)
    assert report.num_failures > 20
    assert len(report.failure_sample) == 20
    assert tuple(report.failure_sample.columns) == FAILURE_SAMPLE_COLUMNS
    rendered = report.failure_sample.to_string() + report.to_markdown()
    assert ACCOUNT_NUMBER not in rendered
    assert "******6789" in rendered


def test_cross_column_failures_name_the_column_they_guard(valid):
    report = validate_canonical(valid.assign(signed_amount_minor=valid["amount_minor"]))
    cases = report.failure_sample
    signed = cases[cases["check"] == "signed_amount_minor_follows_direction"]
    assert set(signed["column"]) == {"signed_amount_minor"}
    assert sorted(signed["index"]) == [0, 2]  # only the debit rows are inconsistent


def test_markdown_renders_without_tabulate(valid, monkeypatch):
    monkeypatch.setitem(sys.modules, "tabulate", None)  # makes `import tabulate` fail
    markdown = validate_canonical(valid.assign(channel="BITCOIN")).to_markdown()
    lines = markdown.splitlines()
    assert lines[0].startswith("Canonical schema: failed")
    assert lines[2] == "| " + " | ".join(FAILURE_SAMPLE_COLUMNS) + " |"
    assert lines[3] == "|---|---|---|---|---|"
    assert all(line.startswith("| ") for line in lines[4:])


def test_markdown_escapes_pipes_in_values(valid):
    markdown = validate_canonical(valid.assign(channel="A|B")).to_markdown()
    assert "A\\|B" in markdown


def test_passing_report_renders_a_line(valid):
    assert validate_canonical(valid).to_markdown() == "Canonical schema: passed."
