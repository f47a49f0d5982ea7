"""Hostile `--account` values (issue 12): every command that takes an account id answers with one line
and exit code 2, and nothing reaches Mono (the sandbox's request log stays empty), the database or
Dagster. Below the CLI, the client itself refuses them before building a URL, a run whose registry holds
one fails only that account, and a webhook naming one is ignored."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from mono_dagster.cli.main import cli
from mono_dagster.defs.resources import DatabaseResource, MonoResource
from mono_dagster.defs.webhook_inbox_sensor import mono_webhook_inbox_sensor
from mono_dagster.notify import NotifierResource
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import AccountRecord, register_accounts, shard_for
from mono_dagster_tests.mono.test_account_ids import ALL_HOSTILE, HOSTILE
from mono_dagster_tests.pipeline.conftest import last_days, pipeline  # noqa: F401
from mono_dagster_tests.webhooks.test_inbox_sensor import inbox, store_raw

DAY = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def commands(value: str, good: str) -> dict[str, list[str]]:
    window = ["--start", DAY, "--end", DAY]
    return {
        "backfill": ["backfill", *window, "--account", value],
        "backfill after a good id": ["backfill", *window, "--account", good, "--account", value],
        "resync": ["resync", "--account", good, "--account", value, *window],
        "fetch": ["fetch", "--account", value, *window],
        "accounts add": ["accounts", "add", good, value],
        "accounts update": ["accounts", "update", value, "--status", "paused"],
    }


@pytest.fixture()
def hostile_env(sandbox, tmp_path) -> Iterator[dict[str, str]]:
    sandbox.state.reset_request_log()
    yield {
        "MONO_BASE_URL": sandbox.base_url,
        "MONO_SECRET_KEY": sandbox.state.secret_key,
        "MONO_DAGSTER_DB_URL": f"sqlite:///{tmp_path / 'never_created.sqlite'}",
        "DAGSTER_HOME": str(tmp_path / "never_created_home"),
    }


def assert_refused_untouched(code: int, stderr: str, value: str, env: dict[str, str], sandbox) -> None:
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "is not a Mono account id" in lines[0], stderr
    assert len(lines[0]) < 250, "a 500-character value is not echoed whole"
    assert sandbox.state.request_count() == 0, [record.path for record in sandbox.state.request_log]
    assert not Path(env["MONO_DAGSTER_DB_URL"].removeprefix("sqlite:///")).exists(), "the database was opened"
    assert not Path(env["DAGSTER_HOME"]).exists(), "a Dagster instance was created"


# The values as separate processes; every other value and command is covered in process below.
AS_SUBPROCESS = {name: HOSTILE[name] for name in ("dot-dot path", "query", "single quote", "double quote")} | {
    name: HOSTILE[name] for name in ("500 characters", "empty", "whitespace")
}


@pytest.mark.parametrize("value", list(AS_SUBPROCESS.values()), ids=list(AS_SUBPROCESS))
def test_a_hostile_backfill_account_is_one_line_exit_2_and_no_request(sandbox, hostile_env, value):
    done = subprocess.run(
        [sys.executable, "-m", "mono_dagster.cli", *commands(value, "")["backfill"]],
        env={**os.environ, **hostile_env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert_refused_untouched(done.returncode, done.stderr, value, hostile_env, sandbox)


@pytest.mark.parametrize("command", ["backfill after a good id", "resync", "fetch", "accounts add", "accounts update"])
def test_every_command_taking_an_account_refuses_it_as_a_subprocess(sandbox, hostile_env, command):
    value = "../x"
    good = sandbox.state.account_ids()[0]
    done = subprocess.run(
        [sys.executable, "-m", "mono_dagster.cli", *commands(value, good)[command]],
        env={**os.environ, **hostile_env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert_refused_untouched(done.returncode, done.stderr, value, hostile_env, sandbox)


@pytest.mark.parametrize("value", list(ALL_HOSTILE.values()), ids=list(ALL_HOSTILE))
def test_every_command_refuses_every_hostile_value_in_process(sandbox, hostile_env, value):
    good = sandbox.state.account_ids()[0]
    for name, args in commands(value, good).items():
        result = CliRunner().invoke(cli, args, env=hostile_env)
        assert result.exit_code == 2, (name, result.output)
        assert_refused_untouched(result.exit_code, result.stderr, value, hostile_env, sandbox)


def test_a_hostile_id_already_in_the_registry_fails_only_itself_and_is_never_requested(pipeline, last_days):  # noqa: F811
    start, end = last_days(2)
    good = pipeline.register()
    shard_count = Settings.from_env().shard_count
    # A row written before ids were checked, on the same shard as a real account.
    hostile = next(
        candidate
        for candidate in (f"../{index}" for index in range(1000))
        if shard_for(candidate, shard_count) == shard_for(good[0], shard_count)
    )
    with pipeline.engine.begin() as conn:
        register_accounts(conn, [AccountRecord(account_id=hostile)], shard_count)
    pipeline.sandbox.state.reset_request_log()
    [run] = pipeline.run(start, end, [good[0]])
    assert not run.success, "the blocking all-accounts-synced check fails the run"
    assert not any(".." in record.path for record in pipeline.sandbox.state.request_log)
    assert {row["account_id"] for row in pipeline.persisted()} == {good[0]}, "the real account still persists"


def test_a_webhook_naming_a_hostile_account_is_ignored_without_asking_mono(pipeline):  # noqa: F811
    store_raw(pipeline, b'{"event": "mono.events.account_connected", "data": {"id": "../../v2/accounts"}}')
    pipeline.sandbox.state.reset_request_log()
    resources = {
        "mono": MonoResource(secret_key=pipeline.sandbox.state.secret_key, base_url=pipeline.sandbox.base_url),
        "database": DatabaseResource(url=pipeline.database_url),
        "notifier": NotifierResource(database_url=pipeline.database_url),
    }
    with dg.build_sensor_context(instance=pipeline.instance, resources=resources) as context:
        result = mono_webhook_inbox_sensor(context)
    assert result.run_requests == []
    [row] = inbox(pipeline)
    assert row["outcome"] == "ignored" and "is not a Mono account id" in row["detail"]
    assert pipeline.sandbox.state.request_count() == 0
