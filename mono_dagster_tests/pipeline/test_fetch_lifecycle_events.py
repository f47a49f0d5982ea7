"""The RFC's mono.fetch.started / mono.fetch.completed events: one pair per account fetch, in order."""

from __future__ import annotations

import json

import sqlalchemy as sa

from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import AccountRecord, register_accounts
from mono_dagster.storage.tables import pipeline_events


def fetch_events(engine) -> list[tuple[str, str, dict]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(pipeline_events.c.account_id, pipeline_events.c.event_name, pipeline_events.c.payload)
            .where(pipeline_events.c.event_name.like("mono.fetch.%"))
            .order_by(pipeline_events.c.id)
        )
        return [(row.account_id, row.event_name, json.loads(row.payload)) for row in rows]


def test_every_fetch_is_announced_started_then_completed_or_failed(pipeline, last_days):
    start, end = last_days(3)
    healthy = pipeline.register()
    broken = "0badacc0un7000000000dead"  # unknown to the sandbox: every fetch answers 404
    with pipeline.engine.begin() as conn:
        register_accounts(conn, [AccountRecord(account_id=broken)], Settings.from_env().shard_count)
    pipeline.run(start, end, [*healthy, broken])

    events = fetch_events(pipeline.engine)
    by_account: dict[str, list[str]] = {}
    for account_id, name, _ in events:
        by_account.setdefault(account_id, []).append(name)
    assert by_account[broken] == ["mono.fetch.started", "mono.fetch.failed"]
    for account in healthy:
        assert by_account[account] == ["mono.fetch.started", "mono.fetch.completed"]

    completed = [payload for account_id, name, payload in events if name == "mono.fetch.completed"]
    served = {account: len(pipeline.sandbox.state.transactions(account, start, end)) for account in healthy}
    assert sorted(p["transactions"] for p in completed) == sorted(served.values())
    assert all(p["window_start"] == str(start) and p["window_end"] == str(end) for p in completed)
    started = [payload for _, name, payload in events if name == "mono.fetch.started"]
    assert all("started_at" in p for p in started)
