"""Property: any sequence of complete fetches persists like a simple model, and replays are no-ops.

The model: a row is inserted when first seen, updated when its content changes, never deleted; each
complete fetch that misses it adds one miss, two misses flag it vanished, and seeing it clears both.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mono_dagster.storage.bank_transactions import persist_staged
from mono_dagster.storage.canonical_stage import stage_canonical
from mono_dagster.storage.engine import create_db_engine
from mono_dagster.storage.migrate import upgrade_database
from mono_dagster.storage.tables import bank_transactions, metadata
from mono_dagster_tests.storage.builders import NOW, T0, canonical_frame, canonical_row

WINDOW = ("acc-1", date(2024, 3, 1), date(2024, 3, 7))
fetches = st.lists(
    st.dictionaries(st.integers(0, 7), st.integers(0, 2), max_size=8),  # Mono id -> content version
    min_size=1,
    max_size=5,
)


def _row(key: int, version: int) -> dict:
    return canonical_row(
        provider_transaction_id=f"t{key}", posted_at=T0 + timedelta(hours=key), narration=f"NIP v{version}"
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=fetches, replay=st.booleans())
def test_any_sequence_of_fetches_matches_the_model(sqlite_database_url, sequence, replay):
    upgrade_database(sqlite_database_url)
    engine = create_db_engine(sqlite_database_url)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(sa.delete(table))
    content: dict[int, int] = {}
    misses: dict[int, int] = {}
    runs = [fetch for fetch in sequence for _ in range(2 if replay else 1)]
    for number, fetch in enumerate(runs):
        now = NOW + timedelta(hours=number)
        with engine.begin() as conn:
            stage_canonical(conn, f"run-{number}", canonical_frame([_row(k, v) for k, v in sorted(fetch.items())]))
            stats = persist_staged(conn, f"run-{number}", correlation_id="c", complete_windows=[WINDOW], now=now)
        expected_new = [k for k in fetch if k not in content]
        expected_changed = [k for k in fetch if k in content and content[k] != fetch[k]]
        assert (stats.inserted, stats.updated) == (len(expected_new), len(expected_changed))
        assert stats.unchanged == len(fetch) - len(expected_new) - len(expected_changed)
        newly_missing = [k for k in content if k not in fetch and misses[k] < 2]
        assert stats.missing == len(newly_missing)
        assert stats.vanished == sum(1 for k in newly_missing if misses[k] == 1)
        for key in newly_missing:
            misses[key] += 1
        for key, version in fetch.items():
            content[key], misses[key] = version, 0
        with engine.connect() as conn:
            stored = {row.provider_transaction_id: row for row in conn.execute(sa.select(bank_transactions))}
        assert set(stored) == {f"t{k}" for k in content}  # nothing is ever deleted
        for key, version in content.items():
            row = stored[f"t{key}"]
            assert row.narration == f"NIP v{version}"
            assert row.missing_fetch_count == misses[key]
            assert (row.vanished_at is not None) == (misses[key] >= 2)
