"""The canonical stage: a run's frame goes in (COPY on Postgres) and comes back with the same dtypes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from mono_dagster.records import CANONICAL_COLUMNS
from mono_dagster.storage.canonical_stage import (
    append_to_stage,
    clear_stage,
    load_staged,
    rows_in_stage,
    stage_canonical,
    staged_count,
)
from mono_dagster.storage.engine import create_db_engine
from mono_dagster.storage.migrate import upgrade_database
from mono_dagster.storage.tables import metadata
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


def _recorded(conn, run_id):
    return staged_count(conn, run_id)


def test_appending_chunks_adds_rows_and_the_recorded_count_together(engine):
    first, second = daily_rows("acc-1", days=3), daily_rows("acc-2", days=2)
    with engine.begin() as conn:
        assert append_to_stage(conn, "run-1", canonical_frame(first)) == 3
        assert append_to_stage(conn, "run-1", canonical_frame([])) == 0
        assert append_to_stage(conn, "run-1", canonical_frame(second)) == 2
        assert (_recorded(conn, "run-1"), rows_in_stage(conn, "run-1")) == (5, 5)
    with engine.connect() as conn:
        _assert_same_frame(load_staged(conn, "run-1"), canonical_frame(first + second))


def test_an_append_rolled_back_leaves_neither_rows_nor_count(engine):
    with engine.begin() as conn:
        append_to_stage(conn, "run-1", canonical_frame(daily_rows("acc-1", days=2)))
    with pytest.raises(RuntimeError), engine.begin() as conn:
        append_to_stage(conn, "run-1", canonical_frame(daily_rows("acc-2", days=4)))
        raise RuntimeError("crash before commit")
    with engine.connect() as conn:
        assert (_recorded(conn, "run-1"), rows_in_stage(conn, "run-1")) == (2, 2)


def test_appending_a_row_the_run_already_staged_is_refused(engine):
    rows = daily_rows("acc-1", days=2)
    with engine.begin() as conn:
        append_to_stage(conn, "run-1", canonical_frame(rows))
    with pytest.raises(ValueError, match="already staged for run run-1") as refused, engine.begin() as conn:
        append_to_stage(conn, "run-1", canonical_frame(rows[:1]))
    assert "\n" not in str(refused.value)
    with engine.connect() as conn:
        assert (_recorded(conn, "run-1"), rows_in_stage(conn, "run-1")) == (2, 2)


def test_stage_canonical_replaces_the_count_and_clear_stage_removes_it(engine):
    with engine.begin() as conn:
        append_to_stage(conn, "run-1", canonical_frame(daily_rows("acc-1", days=5)))
        assert stage_canonical(conn, "run-1", canonical_frame(daily_rows("acc-1", days=2))) == 2
        assert _recorded(conn, "run-1") == 2
        assert stage_canonical(conn, "run-2", canonical_frame([])) == 0
        assert _recorded(conn, "run-2") == 0  # an empty stage is recorded too: 0 rows were meant
        assert clear_stage(conn, "run-1") == 2
        assert _recorded(conn, "run-1") is None and rows_in_stage(conn, "run-1") == 0
        assert _recorded(conn, "run-2") == 0


def test_a_refused_frame_leaves_the_previous_stage_alone(engine):
    with engine.begin() as conn:
        stage_canonical(conn, "run-1", canonical_frame(daily_rows("acc-1", days=3)))
        with pytest.raises(ValueError, match="repeats"):
            stage_canonical(conn, "run-1", canonical_frame([canonical_row(), canonical_row()]))
        assert (_recorded(conn, "run-1"), rows_in_stage(conn, "run-1")) == (3, 3)


def _persistence(conn, table: str) -> str:
    query = sa.text("SELECT relpersistence FROM pg_class WHERE oid = to_regclass(:table)")
    return conn.execute(query, {"table": table}).scalar_one()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_stage_is_unlogged_on_postgres_and_its_count_is_logged(database_url):
    upgrade_database(database_url)
    with create_db_engine(database_url).connect() as conn:
        assert _persistence(conn, "canonical_transactions") == "u"
        assert _persistence(conn, "pk_canonical_transactions") == "u"
        assert _persistence(conn, "canonical_stage_counts") == "p"
        assert _persistence(conn, "bank_transactions") == "p"


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_metadata_create_all_makes_the_stage_unlogged_too(database_url):
    engine = create_db_engine(database_url)
    metadata.create_all(engine)
    with engine.connect() as conn:
        assert _persistence(conn, "canonical_transactions") == "u"
        assert _persistence(conn, "canonical_stage_counts") == "p"
