"""Properties over Hypothesis-made garbage: nothing is lost, and valid output always passes the schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mono_dagster.mono.responses import content_key
from mono_dagster.records import RAW_TRANSACTION_FIELDS
from mono_dagster.transform import build_raw_frame, to_canonical, validate_canonical
from mono_dagster.transform.parsing import as_text
from mono_dagster_tests.transform.builders import (
    ACCOUNT_ID,
    ACCOUNT_NUMBER,
    OTHER_ACCOUNT_ID,
    OTHER_ACCOUNT_NUMBER,
    accounts_frame,
)

pii = st.sampled_from([ACCOUNT_NUMBER, f"TRF {OTHER_ACCOUNT_NUMBER}", f"{ACCOUNT_NUMBER}.5"])
plain_garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["\ud800", "a\udfffb", "\x00", "\x01" + "23456789"]),  # lone surrogates, NUL, C0
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
# Ids are keys and are never masked, so only the other fields get account numbers as garbage.
garbage = st.one_of(plain_garbage, pii, st.just(int(ACCOUNT_NUMBER)), st.just(float(OTHER_ACCOUNT_NUMBER)))
timestamps = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2199, 12, 31), timezones=st.just(UTC))
iso_dates = st.one_of(
    timestamps.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"),
    timestamps.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    timestamps.map(lambda d: d.astimezone(timezone(timedelta(hours=1))).isoformat()),
    timestamps.map(lambda d: d.strftime("%Y-%m-%d")),
    st.sampled_from(["2023-13-01T00:00:00Z", "2023-02-30T00:00:00Z", "3000-01-01T00:00:00Z", "2023", "yesterday"]),
)
narrations = st.one_of(
    st.sampled_from(
        [
            "NIP/TRF FROM ADEBAYO OLUWASEUN/GTB",
            "POS PURCHASE @ SHOPRITE LEKKI",
            f"TRF FROM {ACCOUNT_NUMBER}",
            f"USSD TO {OTHER_ACCOUNT_NUMBER} *737*",
            "SMS ALERT CHARGES",
        ]
    ),
    st.text(max_size=30),
    garbage,
)
OMIT = object()  # a field Mono left out


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = garbage) -> st.SearchStrategy[Any]:
    """Usually a good value, sometimes garbage, now and then no field at all."""
    return st.integers(0, 19).flatmap(lambda roll: bad if roll == 0 else st.just(OMIT) if roll == 1 else good)


def _object(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not OMIT}


mono_objects = st.fixed_dictionaries(
    {
        "id": mostly(st.sampled_from(["t1", "t2", "t3", "t4", "66141b98e8d4a6001c0f7b01"]), plain_garbage),
        "_id": st.one_of(st.just(OMIT), st.sampled_from(["t1", "t5"])),
        "type": mostly(st.sampled_from(["debit", "credit", "DEBIT", " Credit", "refund"])),
        "amount": mostly(st.one_of(st.integers(min_value=1, max_value=10**13), st.integers(-5, 500).map(str))),
        "narration": mostly(narrations),
        "date": mostly(iso_dates),
        "balance": mostly(st.integers(min_value=-(10**12), max_value=10**12)),
        "currency": mostly(st.sampled_from(["NGN", "ngn", "GHS", "XOF", "", None])),
        "category": mostly(st.sampled_from(["E-CHANNELS", "bank_charges", "unknown", "Gifts & Donations", None])),
    }
).map(_object)
records = st.lists(
    st.tuples(st.sampled_from([ACCOUNT_ID, OTHER_ACCOUNT_ID, "unlinked-account"]), st.integers(1, 5), mono_objects),
    max_size=25,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _batch(recs: list[tuple[str, int, dict[str, Any]]]) -> tuple[pd.DataFrame, Any]:
    raw = build_raw_frame(recs)
    return raw, to_canonical(raw, accounts_frame())


@SETTINGS
@given(records)
def test_every_input_row_is_valid_quarantined_or_a_counted_duplicate(recs):
    raw, batch = _batch(recs)
    assert len(batch.valid) + len(batch.quarantined) + batch.duplicates_dropped == len(raw)
    fields = [name for name in RAW_TRANSACTION_FIELDS if name != "id"]
    contents = [content_key(obj) for obj in raw[fields].to_dict("records")]
    keys = pd.DataFrame({"account": as_text(raw["account_id"]), "id": as_text(raw["id"]), "content": contents})
    keyed = keys.dropna(subset=["account", "id"])
    versions = keyed.drop_duplicates()  # one transaction per (account, id, content)
    assert batch.duplicates_dropped == len(keyed) - len(versions)
    quarantined = batch.quarantined.dropna(subset=["provider_transaction_id"])
    assert len(batch.valid) + len(quarantined) == len(versions)  # each version lands exactly once
    valid_keys = batch.valid[["account_id", "provider_transaction_id"]]
    assert not valid_keys.duplicated().any()
    conflicted = versions[versions.duplicated(subset=["account", "id"], keep=False)]
    stored = set(map(tuple, valid_keys.to_numpy().tolist()))
    assert not stored & set(map(tuple, conflicted[["account", "id"]].to_numpy().tolist()))  # never chosen


@SETTINGS
@given(records)
def test_valid_output_always_passes_the_schema(recs):
    _, batch = _batch(recs)
    report = validate_canonical(batch.valid)
    assert report.passed, report.to_markdown()


@SETTINGS
@given(records)
def test_no_full_account_number_ever_leaves_the_transform(recs):
    _, batch = _batch(recs)
    # Keys are Mono's own ids, stored as sent so they can be matched, and amounts are amounts (a valid
    # 2087654321 kobo is ₦20.9m, not an account number); every other column is checked.
    not_text = ["provider_transaction_id", "account_id", "raw_page_id", "amount_minor", "amount"]
    not_text += ["signed_amount_minor", "signed_amount", "balance_after_minor"]
    for frame in (batch.valid, batch.quarantined):
        for column in frame.columns.difference(not_text):
            text = "\n".join(frame[column].astype(str))
            assert ACCOUNT_NUMBER not in text and OTHER_ACCOUNT_NUMBER not in text, column


@SETTINGS
@given(records)
def test_every_output_string_is_storable_and_every_raw_record_is_json(recs):
    _, batch = _batch(recs)
    for frame in (batch.valid, batch.quarantined):
        for column in frame.columns:
            for value in frame[column]:
                if isinstance(value, str):
                    value.encode("utf-8")  # Postgres text must be valid UTF-8
                    assert "\x00" not in value  # and cannot hold NUL
    for record in batch.quarantined["raw_record"]:
        assert isinstance(json.loads(record), dict)


@SETTINGS
@given(records)
def test_every_quarantined_row_says_why(recs):
    _, batch = _batch(recs)
    reasons = batch.quarantined["reason"]
    assert reasons.str.len().gt(0).all()
    fields = reasons.str.split("; ").explode().str.split(":").str[0]
    assert set(fields) <= {"id", "account_id", "type", "amount", "date", "currency", "balance", "narration", "category"}


@SETTINGS
@given(records)
def test_transform_is_deterministic(recs):
    _, first = _batch(recs)
    _, second = _batch(recs)
    pd.testing.assert_frame_equal(first.valid, second.valid)
    pd.testing.assert_frame_equal(first.quarantined, second.quarantined)
