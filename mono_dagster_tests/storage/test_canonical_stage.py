"""The canonical stage: a run's frame goes in (COPY on Postgres) and comes back with the same dtypes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from mono_dagster.records import CANONICAL_COLUMNS
from mono_dagster.storage.canonical_stage import clear_stage, load_staged, stage_canonical
from mono_dagster_tests.storage.builders import canonical_frame, canonical_row, daily_rows


def _assert_same_frame(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    key = ["account_id", "posted_at", "provider_transaction_id"]
    expected = expected.sort_values(key).reset_index(drop=True)
    assert list(actual.columns) == list(CANONICAL_COLUMNS)
    assert actual.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(actual, expected)


def test_staged_frame_round_trips_with_the_transforms_dtypes(engine):
    odd = canonical_row(
        "acc-1",
        "odd",
        posted_at=datetime(2024, 2, 29, 23, 30, 15, 123456, tzinfo=UTC),
        amount_minor=99_999_999_999_999,
        balance_after_minor=None,
        narration=None,
        provider_category="bills",
        account_number_masked=None,
        institution=None,
    )
    rows = [*daily_rows("acc-2", days=3, per_day=2), odd]
    frame = canonical_frame(rows)
    with engine.begin() as conn:
        assert stage_canonical(conn, "run-1", frame) == 7
    with engine.connect() as conn:
        staged = load_staged(conn, "run-1")
    _assert_same_frame(staged, frame)
    stored = staged[staged["provider_transaction_id"] == "odd"].iloc[0]
    assert stored["amount"] == Decimal("999999999999.99")
    assert isinstance(stored["amount"], Decimal) and isinstance(stored["posted_date"], date)
    assert pd.isna(stored["balance_after_minor"]) and stored["narration"] is None
    assert stored["posted_at"] == pd.Timestamp("2024-02-29 23:30:15.123456", tz="UTC")
    assert stored["posted_date_lagos"] == date(2024, 3, 1)


def test_restaging_a_run_replaces_its_rows(engine):
    with engine.begin() as conn:
        stage_canonical(conn, "run-1", canonical_frame(daily_rows("acc-1", days=5)))
        stage_canonical(conn, "run-2", canonical_frame(daily_rows("acc-2", days=2)))
    smaller = canonical_frame(daily_rows("acc-1", days=2))
    with engine.begin() as conn:
        assert stage_canonical(conn, "run-1", smaller) == 2
    with engine.connect() as conn:
        _assert_same_frame(load_staged(conn, "run-1"), smaller)
        assert len(load_staged(conn, "run-2")) == 2


def test_empty_frame_stages_nothing_and_loads_as_an_empty_canonical_frame(engine):
    with engine.begin() as conn:
        stage_canonical(conn, "run-1", canonical_frame(daily_rows("acc-1", days=2)))
        assert stage_canonical(conn, "run-1", canonical_frame([])) == 0
    with engine.connect() as conn:
        staged = load_staged(conn, "run-1")
    assert staged.empty and list(staged.columns) == list(CANONICAL_COLUMNS)
    assert str(staged["posted_at"].dtype) == "datetime64[ns, UTC]"
    assert str(staged["balance_after_minor"].dtype) == "Int64"


def test_clear_stage_removes_only_that_run(engine):
    with engine.begin() as conn:
        stage_canonical(conn, "run-1", canonical_frame(daily_rows("acc-1", days=3)))
        stage_canonical(conn, "run-2", canonical_frame(daily_rows("acc-1", days=1)))
        assert clear_stage(conn, "run-1") == 3
        assert clear_stage(conn, "run-1") == 0
        assert len(load_staged(conn, "run-2")) == 1


def test_frame_missing_a_column_is_refused(engine):
    frame = canonical_frame([canonical_row()]).drop(columns=["content_hash"])
    with engine.begin() as conn, pytest.raises(ValueError, match="content_hash"):
        stage_canonical(conn, "run-1", frame)


def test_frame_repeating_a_transaction_is_refused(engine):
    frame = canonical_frame([canonical_row(), canonical_row()])
    with engine.begin() as conn, pytest.raises(ValueError, match="repeats 1 transaction_id"):
        stage_canonical(conn, "run-1", frame)


def test_columns_in_another_order_or_extra_columns_are_accepted(engine):
    frame = canonical_frame([canonical_row()])
    shuffled = frame[list(reversed(CANONICAL_COLUMNS))].assign(debug="ignored")
    with engine.begin() as conn:
        stage_canonical(conn, "run-1", shuffled)
        _assert_same_frame(load_staged(conn, "run-1"), frame)


def test_timestamps_in_another_timezone_are_stored_as_the_same_instant(engine):
    frame = canonical_frame([canonical_row()])
    lagos = frame.assign(posted_at=frame["posted_at"].dt.tz_convert("Africa/Lagos"))
    with engine.begin() as conn:
        stage_canonical(conn, "run-1", lagos)
        assert load_staged(conn, "run-1")["posted_at"].iloc[0] == frame["posted_at"].iloc[0]


def test_copy_text_keeps_backslashes_tabs_newlines_and_unicode_exactly(engine):
    awkward = ["back\\slash", "tab\there", "line\nbreak\r\n", "\\N", "\\.", "naïra ₦ 😀", "", "  "]
    rows = [
        canonical_row("acc-1", f"id-{index}", narration=text, provider_category=text or None, institution=text)
        for index, text in enumerate(awkward)
    ]
    frame = canonical_frame(rows)
    with engine.begin() as conn:
        stage_canonical(conn, "run-1", frame)
    with engine.connect() as conn:
        staged = load_staged(conn, "run-1").set_index("provider_transaction_id")
    for index, text in enumerate(awkward):
        assert staged.loc[f"id-{index}", "narration"] == text
        assert staged.loc[f"id-{index}", "institution"] == text
        assert staged.loc[f"id-{index}", "provider_category"] == (text or None)
