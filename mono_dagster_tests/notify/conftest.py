from __future__ import annotations

from collections.abc import Iterator

import pytest

from mono_dagster.storage.engine import dispose_engines
from mono_dagster.storage.migrate import upgrade_database
from mono_dagster_tests.notify.capture import CaptureServer


@pytest.fixture()
def receiver() -> Iterator[CaptureServer]:
    with CaptureServer() as server:
        yield server


@pytest.fixture()
def migrated_url(database_url) -> Iterator[str]:
    upgrade_database(database_url)
    yield database_url
    dispose_engines()
