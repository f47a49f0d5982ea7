"""The repository's production `dagster.yaml` loads as a real instance on Postgres."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest

from mono_dagster.defs.launch import SHARD_TAG, partition_range_tags

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.postgres
def test_production_dagster_yaml_loads_with_postgres_storage(postgres_database_url, tmp_path, monkeypatch):
    parts = urlsplit(postgres_database_url.replace("postgresql+psycopg", "postgresql"))
    monkeypatch.setenv("DAGSTER_PG_USERNAME", parts.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", parts.password or "")
    monkeypatch.setenv("DAGSTER_PG_HOST", parts.hostname or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_DB", parts.path.lstrip("/"))
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.run_monitoring_enabled
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 4
        limits = {(limit["key"], limit["limit"]) for limit in concurrency.run_queue_config.tag_concurrency_limits}
        assert {("dagster/backfill", 2), ("dagster/partition/shard", 1), (SHARD_TAG, 1)} <= limits


def test_range_runs_of_one_shard_carry_the_shard_tag_the_limit_keys_on():
    one_shard = partition_range_tags(date(2024, 3, 1), date(2024, 3, 7), 3)
    assert one_shard[SHARD_TAG] == "shard-03"
    assert SHARD_TAG not in partition_range_tags(date(2024, 3, 1), date(2024, 3, 7), 0, 7), "a box of shards"
