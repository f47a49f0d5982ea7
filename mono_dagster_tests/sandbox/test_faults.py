"""Every fault kind over real HTTP, scripted and random faults, and the two paging faults."""

from __future__ import annotations

import email.utils
import json
import threading
import time
from datetime import UTC, datetime

import pytest

from mono_dagster.sandbox import FaultPlan
from mono_dagster_tests.sandbox.conftest import last_days, mono_date


def transactions_path(sandbox, index: int = 0) -> str:
    return f"/v2/accounts/{sandbox.state.account_ids()[index]}/transactions"


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "400", "403", "504"])
def test_a_status_fault_answers_with_that_status_and_a_mono_error_body(sandbox, mono, kind):
    sandbox.state.set_fault_plan(FaultPlan(script=[kind]))
    response = mono.get(transactions_path(sandbox))
    assert response.status_code == int(kind)
    body = response.json()
    assert body["status"] == "failed"
    assert body["data"] is None
    assert body["message"]
    assert "retry-after" not in response.headers
    assert mono.get(transactions_path(sandbox)).status_code == 200, "a scripted fault is used once"


def test_429_with_retry_after_in_seconds(sandbox, mono):
    sandbox.state.set_fault_plan(FaultPlan(script=["429_retry_after"], retry_after_seconds=7))
    response = mono.get(transactions_path(sandbox))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


def test_429_with_retry_after_as_an_http_date(sandbox, mono):
    sandbox.state.set_fault_plan(FaultPlan(script=["429_retry_after_date"], retry_after_seconds=5))
    before = datetime.now(UTC)
    response = mono.get(transactions_path(sandbox))
    assert response.status_code == 429
    header = response.headers["retry-after"]
    assert header.endswith(" GMT")
    ahead = (email.utils.parsedate_to_datetime(header) - before).total_seconds()
    assert 4 <= ahead <= 5


def test_slow_waits_then_answers_normally_without_blocking_other_requests(sandbox, mono):
    sandbox.state.set_fault_plan(FaultPlan(script=["slow"], slow_seconds=0.6))
    results: dict[str, float] = {}

    def slow_request() -> None:
        started = time.perf_counter()
        results["status"] = mono.get(transactions_path(sandbox)).status_code
        results["slow"] = time.perf_counter() - started

    worker = threading.Thread(target=slow_request)
    worker.start()
    time.sleep(0.1)  # the slow request is in, and its fault taken
    started = time.perf_counter()
    assert mono.get(transactions_path(sandbox, 1)).status_code == 200
    fast = time.perf_counter() - started
    worker.join()
    assert results["status"] == 200
    assert results["slow"] >= 0.6
    assert fast < 0.3


def test_truncated_is_a_200_with_half_a_body_that_is_not_json(sandbox, mono):
    path = transactions_path(sandbox)
    whole = mono.get(path, params={"limit": "10"})
    sandbox.state.set_fault_plan(FaultPlan(script=["truncated"]))
    cut = mono.get(path, params={"limit": "10"})
    assert cut.status_code == 200
    assert int(cut.headers["content-length"]) == len(cut.content)
    assert abs(len(cut.content) - len(whole.content) // 2) <= 2
    assert whole.content.startswith(cut.content[:40])
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)


def test_scripted_faults_are_consumed_in_order_one_per_request_then_ok(sandbox, mono):
    sandbox.state.set_fault_plan(FaultPlan(script=["503", "ok", "429", "500"]))
    statuses = [mono.get(transactions_path(sandbox)).status_code for _ in range(5)]
    assert statuses == [503, 200, 429, 500, 200]
    assert sandbox.state.fault_plan.script == []
    assert [record.fault for record in sandbox.state.request_log[-5:]] == ["503", None, "429", "500", None]


def test_faults_never_touch_admin_paths(sandbox, mono):
    sandbox.state.set_fault_plan(FaultPlan(script=["500", "500"], rate=1.0, kinds=("503",)))
    sandbox.state.reset_request_log()
    for _ in range(3):
        assert mono.get("/_sandbox/state").status_code == 200
    assert sandbox.state.request_count() == 0
    assert sandbox.state.fault_plan.script == ["500", "500"]


def test_random_faults_follow_the_rate_and_repeat_for_the_same_seed(sandbox, mono):
    def run() -> list[int]:
        sandbox.state.set_fault_plan(FaultPlan(seed=5, rate=0.3, kinds=("429", "500", "502", "503")))
        return [mono.get("/v2/accounts").status_code for _ in range(60)]

    first = run()
    assert run() == first
    faults = sum(status != 200 for status in first)
    assert 8 <= faults <= 32
    assert set(first) <= {200, 429, 500, 502, 503}


def test_the_callers_plan_object_is_not_consumed(sandbox, mono):
    plan = FaultPlan(script=["500"])
    sandbox.state.set_fault_plan(plan)
    mono.get("/v2/accounts")
    assert plan.script == ["500"]


def test_duplicate_across_pages_repeats_the_last_row_of_each_page(sandbox, mono):
    start, end = last_days(sandbox, 5)
    sandbox.state.set_fault_plan(FaultPlan(duplicate_across_pages=True))
    params = {"start": mono_date(start), "end": mono_date(end), "limit": "10"}
    pages = [mono.get(transactions_path(sandbox), params={**params, "page": str(n)}).json() for n in (1, 2, 3)]
    ids = [[txn["id"] for txn in page["data"]] for page in pages]
    assert len(ids[0]) == 10 and len(ids[1]) == 11 and len(ids[2]) == 6
    assert ids[1][0] == ids[0][-1]
    assert ids[2][0] == ids[1][-1]
    assert [p["meta"]["total"] for p in pages] == [25, 25, 25]
    assert pages[2]["meta"]["next"] is None
    expected = [txn["id"] for txn in sandbox.state.transactions(sandbox.state.account_ids()[0], start, end)]
    assert list(dict.fromkeys(ids[0] + ids[1] + ids[2])) == expected


def test_new_transactions_while_paging_grow_total_once_and_land_in_the_window(sandbox, mono):
    account = sandbox.state.account_ids()[1]
    start, end = last_days(sandbox, 4)
    before = sandbox.state.transactions(account, start, end)
    sandbox.state.set_fault_plan(FaultPlan(new_transactions_while_paging=3))
    params = {"start": mono_date(start), "end": mono_date(end), "limit": "8"}
    page1 = mono.get(transactions_path(sandbox, 1), params={**params, "page": "1"}).json()
    page2 = mono.get(transactions_path(sandbox, 1), params={**params, "page": "2"}).json()
    assert page1["meta"]["total"] == 20
    assert page2["meta"]["total"] == 23
    after = sandbox.state.transactions(account, start, end)
    arrivals = after[:3]
    assert len(after) == 23 and after[3:] == before
    assert all(start.isoformat() <= txn["date"][:10] <= end.isoformat() for txn in arrivals)
    # Page 2 now starts with what page 1 ended on: the arrivals shifted every page by three.
    assert page2["data"][0]["id"] == before[5]["id"]
    again = mono.get(transactions_path(sandbox, 1), params={**params, "page": "1"}).json()
    assert again["meta"]["total"] == 23, "the arrivals happen once per plan"


def test_a_single_page_walk_gets_no_arrivals(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    sandbox.state.set_fault_plan(FaultPlan(new_transactions_while_paging=2))
    start, end = last_days(sandbox, 1)
    mono.get(transactions_path(sandbox), params={"start": mono_date(start), "end": mono_date(end), "limit": "50"})
    assert len(sandbox.state.transactions(account, start, end)) == 5


def test_arrivals_match_the_walks_filters(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    sandbox.state.set_fault_plan(FaultPlan(new_transactions_while_paging=2))
    params = {"type": "debit", "narration": "pos", "limit": "2"}
    total = mono.get(transactions_path(sandbox), params=params).json()["meta"]["total"]
    assert mono.get(transactions_path(sandbox), params={**params, "page": "2"}).json()["meta"]["total"] == total + 2
    arrivals = sandbox.state.transactions(account)[:2]
    assert all(txn["type"] == "debit" and "POS" in txn["narration"] for txn in arrivals)


def test_a_fault_plan_round_trips_through_a_dict_and_refuses_unknowns():
    plan = FaultPlan(seed=3, rate=0.5, kinds=("500", "slow"), script=["ok", "429"], shape="v1")
    assert FaultPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    with pytest.raises(ValueError, match="unknown fault plan fields"):
        FaultPlan.from_dict({"rate": 0.1, "speed": 2})
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan(kinds=("teapot",))
    with pytest.raises(ValueError, match="rate"):
        FaultPlan(rate=1.5)


def test_malformed_fields_are_served_in_place_of_the_stored_ones(sandbox):
    import httpx

    from mono_dagster.sandbox import FaultPlan

    account = sandbox.state.account_ids()[0]
    stored = sandbox.state.transactions(account)[0]
    sandbox.state.set_fault_plan(FaultPlan(malformed={stored["id"]: {"amount": -500, "type": "refund"}}))
    served = httpx.get(
        f"{sandbox.base_url}/v2/accounts/{account}/transactions",
        params={"paginate": "false"},
        headers={"mono-sec-key": sandbox.state.secret_key},
    ).json()["data"]
    bad = next(txn for txn in served if txn["id"] == stored["id"])
    assert (bad["amount"], bad["type"]) == (-500, "refund")
    assert sandbox.state.transactions(account)[0]["amount"] == stored["amount"], "the ledger is untouched"
