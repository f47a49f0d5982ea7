"""Quarantine: each bad row is kept once, with its reason, and remembered by the latest run that saw it."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa

from mono_dagster.storage.quarantine import count_quarantined, quarantine_rows
from mono_dagster.storage.tables import quarantined_transactions
from mono_dagster.transform import build_raw_frame, to_canonical
from mono_dagster_tests.storage.builders import NOW, quarantine_frame, quarantine_row
from mono_dagster_tests.transform.builders import ACCOUNT_ID, accounts_frame, v2_transaction

START, END = date(2024, 3, 1), date(2024, 3, 7)


def _quarantine(conn, rows, run_id="run-1", now=NOW):
    return quarantine_rows(
        conn,
        quarantine_frame(rows),
        run_id=run_id,
        correlation_id=f"corr-{run_id}",
        window_start=START,
        window_end=END,
        now=now,
    )


def test_quarantine_is_idempotent(engine):
    rows = [quarantine_row(provider_transaction_id=f"bad-{n}") for n in range(3)]
    with engine.begin() as conn:
        assert _quarantine(conn, rows) == 3
    later = NOW + timedelta(days=1)
    with engine.begin() as conn:
        assert _quarantine(conn, rows, run_id="run-2", now=later) == 0
        assert _quarantine(conn, [*rows, quarantine_row(provider_transaction_id="bad-9")], "run-2", later) == 1
    with engine.connect() as conn:
        assert count_quarantined(conn) == 4
        stored = conn.execute(sa.select(quarantined_transactions).order_by(quarantined_transactions.c.id)).all()
    first = stored[0]
    assert (first.first_run_id, first.run_id, first.correlation_id) == ("run-1", "run-2", "corr-run-2")
    assert first.quarantined_at == NOW and first.last_seen_at == later
    assert first.reason == rows[0]["reason"] and first.raw_record == rows[0]["raw_record"]


def test_same_row_for_another_reason_is_quarantined_again(engine):
    with engine.begin() as conn:
        assert _quarantine(conn, [quarantine_row(reason="amount: negative (-1)")]) == 1
        assert _quarantine(conn, [quarantine_row(reason="date: unparseable (2024-13-**)")]) == 1


def test_equal_rows_within_one_frame_are_each_kept_and_a_rerun_adds_none(engine):
    # Two id-less rows Mono sent alike may be two real transactions (two equal charges): keep both.
    twins = [quarantine_row(provider_transaction_id=None), quarantine_row(provider_transaction_id=None)]
    with engine.begin() as conn:
        assert _quarantine(conn, twins) == 2
        assert _quarantine(conn, twins, run_id="run-2") == 0
        assert _quarantine(conn, [*twins, quarantine_row(provider_transaction_id=None)], run_id="run-3") == 1
        assert count_quarantined(conn) == 3


def test_rows_without_a_mono_id_are_kept(engine):
    frame = quarantine_frame([quarantine_row(provider_transaction_id=None)])
    frame["raw_page_id"] = pd.array([pd.NA], dtype="Int64")
    with engine.begin() as conn:
        quarantine_rows(conn, frame, run_id="run-1", correlation_id="c", window_start=START, window_end=END, now=NOW)
        row = conn.execute(sa.select(quarantined_transactions)).one()
    assert row.provider_transaction_id is None and row.raw_page_id is None


def test_counting_by_run_and_account(engine):
    with engine.begin() as conn:
        _quarantine(conn, [quarantine_row("acc-1", "a"), quarantine_row("acc-2", "b")])
        _quarantine(conn, [quarantine_row("acc-2", "c")], run_id="run-2")
        assert count_quarantined(conn, run_id="run-1") == 2
        assert count_quarantined(conn, account_id="acc-2") == 2
        assert count_quarantined(conn, run_id="run-2", account_id="acc-2") == 1
        assert count_quarantined(conn, run_id="run-3") == 0


def test_empty_frame_quarantines_nothing(engine):
    with engine.begin() as conn:
        assert _quarantine(conn, []) == 0
        assert count_quarantined(conn) == 0


def test_bad_rows_holding_nul_and_a_megabyte_are_stored_without_nul(engine):
    # Postgres text refuses NUL: what the transform quarantines must still be storable, on both databases.
    objects = [
        v2_transaction(id="t\x001", type="re\x00fund"),
        v2_transaction(id="t2", narration="POS\x00 SHOPRITE", category="a\x00b"),
        v2_transaction(id="t3", narration="A" * 1_048_576),
    ]
    batch = to_canonical(build_raw_frame((ACCOUNT_ID, 1, obj) for obj in objects), accounts_frame())
    with engine.begin() as conn:
        assert _quarantine(conn, batch.quarantined.to_dict("records")) == 3
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(quarantined_transactions.c.provider_transaction_id, quarantined_transactions.c.raw_record)
        ).all()
    assert sorted(row[0] for row in stored) == ["t2", "t3", "t\ufffd1"]
    assert all("\x00" not in row[1] for row in stored)
    assert max(len(row[1]) for row in stored) > 1_048_576  # the huge row is kept whole for the operator
