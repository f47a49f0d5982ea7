"""Above MONO_METRICS_ACCOUNT_LABEL_LIMIT: every process buckets every account alike, and bucket gauges are right.

Each `RunProcess` (test_push.py) stands for one Dagster run: its own registry, its own pusher. The account
registry is a real (SQLite) `mono_accounts`; the buckets' streak and last success come from it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from mono_dagster.defs.metrics_push import label_policy, registry_bucket_gauges
from mono_dagster.observability.metrics import (
    ACCOUNT_BUCKETS,
    AccountLabelPolicy,
    bucket_gauge_values,
    bucket_of,
    fleet_size,
)
from mono_dagster.storage.accounts import AccountRecord, register_accounts, set_account_status
from mono_dagster.storage.engine import create_db_engine
from mono_dagster.storage.migrate import upgrade_database
from mono_dagster.storage.tables import mono_accounts
from mono_dagster_tests.monitoring.servers import Pushgateway, running_pushgateway
from mono_dagster_tests.observability.test_push import (
    ERRORS,
    LAST_SUCCESS,
    STAGE_COUNT,
    STREAK,
    SYNTHETIC_LAST_SUCCESS,
    RunProcess,
)

FRESH = datetime(2024, 5, 2, 6, 0, tzinfo=UTC)
STALE = datetime(2024, 4, 29, 6, 0, tzinfo=UTC)


def same_bucket(count: int, prefix: str = "acct") -> list[str]:
    """`count` account ids that share one bucket."""
    by_bucket: dict[str, list[str]] = {}
    for n in itertools.count():
        account = f"{prefix}-{n:05d}"
        members = by_bucket.setdefault(bucket_of(account), [])
        members.append(account)
        if len(members) == count:
            return members
    raise AssertionError("unreachable")


@pytest.fixture()
def engine(sqlite_database_url: str) -> Iterator[sa.Engine]:
    upgrade_database(sqlite_database_url)
    yield create_db_engine(sqlite_database_url)


@pytest.fixture()
def gateway(tmp_path: Path) -> Iterator[Pushgateway]:
    with running_pushgateway(tmp_path) as running:
        yield running


def register(engine: sa.Engine, accounts: list[str], **state: object) -> None:
    with engine.begin() as conn:
        register_accounts(conn, [AccountRecord(account_id=a) for a in accounts], 4)
        if state:
            conn.execute(sa.update(mono_accounts).where(mono_accounts.c.account_id.in_(accounts)).values(**state))


def test_the_label_decision_is_a_fleet_size_switch_every_process_agrees_on(engine):
    register(engine, [f"acct-{n}" for n in range(5)])
    with engine.connect() as conn:
        size = fleet_size(conn)
    assert size == 5
    below, above = AccountLabelPolicy.for_fleet(size, limit=5), AccountLabelPolicy.for_fleet(size, limit=4)
    assert not below.bucketed and below.label("acct-1") == "acct-1"
    assert above.bucketed and above.label("acct-1") == bucket_of("acct-1")
    # Not first-come: the same account gets the same label whatever else a process saw first.
    other = AccountLabelPolicy.for_fleet(size, limit=4)
    assert [other.label(f"acct-{n}") for n in reversed(range(5))] == [
        above.label(f"acct-{n}") for n in reversed(range(5))
    ]
    assert above.label("all") == "all" and above.label(above.label("acct-1")) == above.label("acct-1")
    assert len({above.label(f"x-{n}") for n in range(5000)}) == ACCOUNT_BUCKETS
    assert above.is_stale("acct-1") and not above.is_stale("bucket-03") and not above.is_stale("all")
    assert below.is_stale("bucket-03") and not below.is_stale("acct-1")
    with engine.begin() as conn:
        set_account_status(conn, "acct-4", "unlinked")
        assert fleet_size(conn) == 4, "unlinked accounts do not count"


def test_a_bucket_streak_is_its_worst_account_even_when_another_succeeds_later(engine, gateway):
    failing, healthy = same_bucket(2)
    bucket = bucket_of(failing)
    register(engine, [failing], failure_streak=5, last_success_at=STALE)
    register(engine, [healthy], failure_streak=0, last_success_at=FRESH)
    register(engine, [f"other-{n}" for n in range(3)])
    policy = AccountLabelPolicy.for_fleet(5, limit=2)
    reader = registry_bucket_gauges(engine, policy)

    one, two = RunProcess(gateway), RunProcess(gateway)
    one.fail(failing, streak=5)
    assert one.pusher.push("shard-01", labels=policy, bucket_gauges=reader).ok
    two.succeed(healthy, at=FRESH.timestamp())  # the same bucket, pushed last: it must not hide the failure
    assert two.pusher.push("shard-02", labels=policy, bucket_gauges=reader).ok

    assert [value for _, value in gateway.samples(STREAK, account_id=bucket)] == [5]
    assert [value for _, value in gateway.samples(LAST_SUCCESS, account_id=bucket)] == [STALE.timestamp()]
    assert gateway.samples(STREAK, account_id=failing) == [] and gateway.samples(STREAK, account_id=healthy) == []
    assert gateway.total(ERRORS, account_id=bucket) == 1
    assert gateway.total(STAGE_COUNT, account_id=bucket) == 2


def test_a_stale_account_holds_its_buckets_last_success_and_paused_accounts_do_not(engine):
    stale, fresh, paused = same_bucket(3, prefix="ls")
    register(engine, [stale], last_success_at=STALE)
    register(engine, [fresh], last_success_at=FRESH)
    register(engine, [paused], last_success_at=datetime(2020, 1, 1, tzinfo=UTC), failure_streak=9, status="paused")
    policy = AccountLabelPolicy(bucketed=True)
    bucket = bucket_of(stale)
    with engine.connect() as conn:
        values = bucket_gauge_values(conn, policy, {bucket})
    assert values == {
        "taxpoynt_mono_pipeline_failure_streak": {bucket: 0.0},
        "taxpoynt_mono_pipeline_last_success_timestamp_seconds": {bucket: STALE.timestamp()},
    }


def test_two_processes_agree_on_labels_and_sum_into_one_bucket_series(engine, gateway):
    accounts = same_bucket(2, prefix="agree")
    register(engine, [*accounts, "x-1", "x-2"])
    first_policy = AccountLabelPolicy.for_fleet(4, limit=3)
    second_policy = AccountLabelPolicy.for_fleet(4, limit=3)
    first, second = RunProcess(gateway), RunProcess(gateway)
    first.fail(accounts[0], streak=1)
    first.fail("x-1", streak=1)
    second.fail(accounts[1], streak=1)
    second.fail("x-2", streak=1)
    assert first.pusher.push("shard-01", labels=first_policy).ok
    assert second.pusher.push("shard-01", labels=second_policy).ok
    labels = {sample_labels["account_id"] for sample_labels, _ in gateway.samples(ERRORS)}
    assert labels == {bucket_of(a) for a in [*accounts, "x-1", "x-2"]}
    assert gateway.total(ERRORS, account_id=bucket_of(accounts[0])) == 2


def test_crossing_the_limit_removes_the_id_groups_so_no_stale_gauge_fires_later(engine, gateway):
    register(engine, ["acct-1", "acct-2", "acct-synthetic"], last_success_at=FRESH)
    before = RunProcess(gateway)  # a run while the fleet was within the limit
    before.succeed("acct-1", at=STALE.timestamp())
    before.fail("acct-2", streak=1)
    from prometheus_client import Gauge

    synthetic = Gauge(SYNTHETIC_LAST_SUCCESS, "synthetic", ["provider", "account_id"], registry=before.registry)
    synthetic.labels("mono", "acct-1").set(1_700_000_500)  # shares acct-1's group
    assert before.pusher.push("shard-01", labels=AccountLabelPolicy(bucketed=False)).ok
    assert gateway.samples(LAST_SUCCESS, account_id="acct-1")

    after = RunProcess(gateway)  # the fleet grew past the limit
    after.succeed("acct-2", at=FRESH.timestamp())
    policy = AccountLabelPolicy(bucketed=True)
    outcome = after.pusher.push("shard-01", labels=policy, bucket_gauges=registry_bucket_gauges(engine, policy))
    assert outcome.ok and outcome.stale_groups_removed == 2
    assert gateway.samples(LAST_SUCCESS, account_id="acct-1") == []
    assert gateway.samples(STREAK, account_id="acct-2") == []
    assert gateway.samples(ERRORS, account_id="acct-2") == [], "id-labelled counters leave the shard group"
    assert [v for _, v in gateway.samples(SYNTHETIC_LAST_SUCCESS, account_id="acct-1")] == [1_700_000_500]
    assert [v for _, v in gateway.samples(STREAK, account_id=bucket_of("acct-2"))] == [0]


def test_the_hooks_policy_is_read_once_per_registry(engine, monkeypatch):
    register(engine, ["acct-1", "acct-2"])
    monkeypatch.setenv("MONO_METRICS_ACCOUNT_LABEL_LIMIT", "1")
    policy = label_policy(engine)
    assert policy is not None and policy.bucketed
    register(engine, ["acct-3"])
    assert label_policy(engine) is policy
