"""`GET .../transactions` over real HTTP: windows, filters, pagination quirks and all three shapes."""

from __future__ import annotations

import time
from datetime import date, timedelta

import httpx
import pytest

from mono_dagster.sandbox import FaultPlan, SandboxConfig, SandboxServer, SandboxState
from mono_dagster_tests.sandbox.conftest import assert_running_balances, last_days, mono_date


def window_params(start: date, end: date, **extra: str) -> dict[str, str]:
    return {"start": mono_date(start), "end": mono_date(end), **extra}


def test_a_v2_page_has_mono_fields_and_the_newest_transactions_first(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    start, end = last_days(sandbox, 3)
    response = mono.get(f"/v2/accounts/{account}/transactions", params=window_params(start, end, limit="4"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "successful"
    assert body["message"] == "Transaction retrieved successfully"
    assert body["timestamp"].endswith("Z")
    assert body["data"] == sandbox.state.transactions(account, start, end)[:4]
    assert [txn["date"] for txn in body["data"]] == sorted((txn["date"] for txn in body["data"]), reverse=True)
    assert body["meta"]["total"] == 15
    assert body["meta"]["page"] == 1
    assert body["meta"]["previous"] is None


def test_start_and_end_are_inclusive_utc_days(sandbox, mono):
    account = sandbox.state.account_ids()[1]
    day = sandbox.state.end_date - timedelta(days=4)
    body = mono.get(f"/v2/accounts/{account}/transactions", params=window_params(day, day)).json()
    assert body["meta"]["total"] == 5
    assert {txn["date"][:10] for txn in body["data"]} == {day.isoformat()}
    two_days = mono.get(f"/v2/accounts/{account}/transactions", params=window_params(day, day + timedelta(1)))
    assert two_days.json()["meta"]["total"] == 10


def test_next_and_previous_links_drop_the_accounts_segment_and_every_filter(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    start, end = last_days(sandbox, 10)
    params = window_params(start, end, limit="7", page="2", type="debit")
    meta = mono.get(f"/v2/accounts/{account}/transactions", params=params).json()["meta"]
    assert meta["next"] == f"{sandbox.base_url}/v2/{account}/transactions?page=3"
    assert meta["previous"] == f"{sandbox.base_url}/v2/{account}/transactions?page=1"


def test_pages_cover_the_window_once_and_next_is_null_on_the_last_page(sandbox, mono):
    account = sandbox.state.account_ids()[2]
    start, end = last_days(sandbox, 10)
    seen: list[str] = []
    for page in range(1, 9):
        body = mono.get(
            f"/v2/accounts/{account}/transactions",
            params=window_params(start, end, limit="7", page=str(page)),
        ).json()
        seen += [txn["id"] for txn in body["data"]]
        assert (body["meta"]["next"] is None) == (page == 8)
    assert seen == [txn["id"] for txn in sandbox.state.transactions(account, start, end)]
    assert len(seen) == 50


def test_limit_defaults_to_twenty_and_has_no_maximum(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    default = mono.get(f"/v2/accounts/{account}/transactions").json()
    assert len(default["data"]) == 20
    assert default["meta"]["total"] == 150  # no filters: the whole history
    everything = mono.get(f"/v2/accounts/{account}/transactions", params={"limit": "1000"}).json()
    assert len(everything["data"]) == 150
    assert everything["meta"]["next"] is None


def test_paginate_false_returns_the_whole_window_in_one_response(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    start, end = last_days(sandbox, 30)
    body = mono.get(
        f"/v2/accounts/{account}/transactions", params=window_params(start, end, paginate="false", limit="5")
    ).json()
    assert len(body["data"]) == body["meta"]["total"] == 150
    assert body["meta"]["page"] == 1
    assert body["meta"]["next"] is None
    assert_running_balances(body["data"])


def test_type_and_narration_filters(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    path = f"/v2/accounts/{account}/transactions"
    debits = mono.get(path, params={"type": "debit", "paginate": "false"}).json()["data"]
    assert debits and {txn["type"] for txn in debits} == {"debit"}
    credits = mono.get(path, params={"type": "CREDIT", "paginate": "false"}).json()["data"]
    assert len(debits) + len(credits) == 150
    nip = mono.get(path, params={"narration": "nip/trf", "paginate": "false"}).json()["data"]
    assert nip and all("NIP/TRF" in txn["narration"] for txn in nip)
    expected = [t for t in sandbox.state.transactions(account) if "nip/trf" in t["narration"].lower()]
    assert nip == expected


def test_an_empty_window_is_successful_with_data_and_meta_null(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    response = mono.get(f"/v2/accounts/{account}/transactions", params={"start": "01-01-2001", "end": "31-01-2001"})
    assert response.status_code == 200
    assert response.json() == {
        "status": "successful",
        "message": "No transactions found for the provided date filter, please try again with different date",
        "data": None,
        "meta": None,
    }


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"start": "2024-01-31"}, "start"),
        ({"end": "31/01/2024"}, "end"),
        ({"start": "31-02-2024"}, "start"),
        ({"start": "02-03-2024", "end": "01-03-2024"}, "start"),
        ({"type": "refund"}, "type"),
        ({"page": "0"}, "page"),
        ({"limit": "ten"}, "limit"),
        ({"paginate": "maybe"}, "paginate"),
    ],
)
def test_a_malformed_parameter_is_a_400_naming_it(sandbox, mono, params, parameter):
    response = mono.get(f"/v2/accounts/{sandbox.state.account_ids()[0]}/transactions", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "failed"
    assert body["data"] is None
    assert parameter in body["message"]


def test_an_unknown_account_is_a_404(sandbox, mono):
    for path in ("/v2/accounts/{}/transactions", "/v1/accounts/{}/transactions", "/accounts/{}/transactions"):
        response = mono.get(path.format("0123456789abcdef01234567"), params={"start": "2024-01-31"})
        assert response.status_code == 404
        assert response.json()["message"] == "Account not found"
        assert response.json()["status"] == "failed"


def test_v1_path_serves_the_v1_shape(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    start, end = last_days(sandbox, 2)
    body = mono.get(f"/v1/accounts/{account}/transactions", params=window_params(start, end, limit="3")).json()
    assert body["status"] == "successful"
    assert body["message"] == "Successfully fetched transactions"
    paging = body["data"]["paging"]
    assert (paging["page"], paging["total"], paging["previous"]) == (1, 10, None)
    assert paging["next"] == f"{sandbox.base_url}/accounts/{account}/transactions?page=2"
    expected = sandbox.state.transactions(account, start, end)[:3]
    assert [t["id"] for t in body["data"]["transactions"]] == [t["id"] for t in expected]
    first = body["data"]["transactions"][0]
    assert list(first) == ["id", "type", "amount", "narration", "date", "balance", "currency"]
    assert first["currency"] == "NGN"


def test_legacy_unversioned_path_serves_the_legacy_shape_with_underscore_ids(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    start, end = last_days(sandbox, 2)
    body = mono.get(f"/accounts/{account}/transactions", params=window_params(start, end, page="2", limit="4")).json()
    assert set(body) == {"paging", "data"}
    assert body["paging"]["total"] == 10
    assert body["paging"]["page"] == 2
    assert body["paging"]["previous"].endswith(f"/accounts/{account}/transactions?page=1")
    expected = sandbox.state.transactions(account, start, end)[4:8]
    assert [t["_id"] for t in body["data"]] == [t["id"] for t in expected]
    assert list(body["data"][0]) == [
        "_id",
        "type",
        "amount",
        "narration",
        "date",
        "balance",
        "currency",
        "category",
    ]


@pytest.mark.parametrize(
    ("shape", "probe"), [("v1", lambda b: b["data"]["transactions"]), ("legacy", lambda b: b["data"])]
)
def test_plan_shape_overrides_the_shape_on_v2_paths(sandbox, mono, shape, probe):
    account = sandbox.state.account_ids()[0]
    sandbox.state.set_fault_plan(FaultPlan(shape=shape))
    body = mono.get(f"/v2/accounts/{account}/transactions", params={"limit": "2"}).json()
    assert len(probe(body)) == 2
    sandbox.state.set_fault_plan(FaultPlan())
    assert "meta" in mono.get(f"/v2/accounts/{account}/transactions").json()


def test_config_shape_sets_the_default_shape_on_v2_paths():
    state = SandboxState(SandboxConfig(accounts=1, days=1, per_day=3, shape="legacy"))
    with SandboxServer(state) as server:
        response = httpx.get(
            f"{server.base_url}/v2/accounts/{state.account_ids()[0]}/transactions",
            headers={"mono-sec-key": state.secret_key},
        )
    assert "paging" in response.json()
    assert response.json()["data"][0]["_id"] == state.transactions(state.account_ids()[0])[0]["id"]


def test_paginate_false_over_a_benchmark_year_is_fast():
    state = SandboxState(SandboxConfig(seed=3, accounts=1, days=365, per_day=50, end_date=date(2024, 12, 31)))
    account = state.account_ids()[0]
    with SandboxServer(state) as server, httpx.Client(base_url=server.base_url) as client:
        params = {"start": "01-01-2024", "end": "31-12-2024", "paginate": "false"}
        started = time.perf_counter()
        response = client.get(
            f"/v2/accounts/{account}/transactions", params=params, headers={"mono-sec-key": state.secret_key}
        )
        elapsed = time.perf_counter() - started
    assert len(response.json()["data"]) == 18_250
    assert elapsed < 0.5, f"paginate=false over 18,250 transactions took {elapsed:.2f} s"
