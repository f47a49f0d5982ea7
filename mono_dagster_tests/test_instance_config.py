"""The repository's production `dagster.yaml` loads as a real instance on Postgres."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest

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
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 4
