"""Fixtures for the synthetic check: a PagerDuty stand-in over real HTTP, and the job bound to real parts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dagster as dg
import pytest

from mono_dagster.defs.resources import DatabaseResource
from mono_dagster.defs.synthetic_monitoring import SYNTHETIC_JOB, mono_synthetic_check, mono_synthetic_check_job
from mono_dagster.notify.resource import NotifierResource
from mono_dagster.sandbox.faults import FaultPlan
from mono_dagster.storage.engine import create_db_engine, dispose_engines
from mono_dagster.storage.migrate import upgrade_database
from mono_dagster.storage.synthetic_checks import SyntheticCheckRow, list_synthetic_checks
from mono_dagster_tests.pipeline.conftest import sandbox_mono_resource


@dataclass
class PagerDutyStandIn:
    """Accepts Events API v2 bodies as PagerDuty does (HTTP 202) and keeps them in order."""

    url: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)

    def actions(self) -> list[tuple[str, str]]:
        return [(event["event_action"], event["dedup_key"]) for event in self.events]


@pytest.fixture()
def pagerduty() -> Iterator[PagerDutyStandIn]:
    received = PagerDutyStandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            received.events.append(json.loads(self.rfile.read(length)))
            self.send_response(202)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status":"success","message":"Event processed"}')

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}/v2/enqueue"
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SyntheticRig:
    sandbox: Any
    database_url: str
    instance: dg.DagsterInstance
    account_id: str
    pagerduty_url: str
    defs: dg.Definitions = field(init=False)

    def __post_init__(self) -> None:
        self.page_to(self.pagerduty_url)

    def page_to(self, pagerduty_url: str) -> None:
        """Binds the job to the real resources, with PagerDuty's Events API at `pagerduty_url`."""
        mono = sandbox_mono_resource(self.sandbox, max_attempts=2, retry_max_delay_seconds=0.005)
        notifier = NotifierResource(
            pagerduty_routing_key="R0UTINGKEY-synthetic-tests",
            pagerduty_events_url=pagerduty_url,
            database_url=self.database_url,
            max_attempts=1,
            retry_base_delay_seconds=0.001,
        )
        self.defs = dg.Definitions(
            jobs=[mono_synthetic_check_job],
            schedules=[mono_synthetic_check],
            resources={"mono": mono, "database": DatabaseResource(url=self.database_url), "notifier": notifier},
        )

    def sandbox_fails(self) -> None:
        self.sandbox.state.set_fault_plan(FaultPlan(rate=1.0, kinds=("500",)))

    def sandbox_recovers(self) -> None:
        self.sandbox.state.set_fault_plan(FaultPlan())

    def tick(self, when: datetime) -> dg.ExecuteInProcessResult:
        """Evaluates the schedule at `when` as the daemon would, and runs what it asks for."""
        schedule = self.defs.resolve_schedule_def("mono_synthetic_check")
        data = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when))
        assert data.run_requests and len(data.run_requests) == 1, data.skip_message
        request = data.run_requests[0]
        job = self.defs.resolve_job_def(SYNTHETIC_JOB)
        return job.execute_in_process(run_config=request.run_config, instance=self.instance, tags=request.tags)

    def checks(self) -> list[SyntheticCheckRow]:
        with create_db_engine(self.database_url).connect() as conn:
            return list_synthetic_checks(conn, self.account_id)


@pytest.fixture()
def synthetic(sandbox, database_url, pagerduty, monkeypatch) -> Iterator[SyntheticRig]:
    upgrade_database(database_url)
    account_id = sandbox.state.account_ids()[0]
    monkeypatch.setenv("MONO_SYNTHETIC_ACCOUNT_ID", account_id)
    monkeypatch.setenv("MONO_INGESTION_ENABLED", "true")
    with dg.instance_for_test() as instance:
        yield SyntheticRig(sandbox, database_url, instance, account_id, pagerduty.url)
    dispose_engines()


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 28, hour, minute, tzinfo=UTC)
