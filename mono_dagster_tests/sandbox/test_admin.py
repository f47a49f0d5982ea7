"""The `/_sandbox` admin endpoints and the running balances after adding, changing and removing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from mono_dagster.sandbox import FaultPlan
from mono_dagster_tests.sandbox.conftest import assert_running_balances


def test_state_shows_config_accounts_counts_and_plan_but_not_the_key(sandbox):
    sandbox.state.set_secret_key("test_sk_hidden_value")
    body = httpx.get(f"{sandbox.base_url}/_sandbox/state").json()
    assert body["config"]["accounts"] == 3
    assert [account["id"] for account in body["accounts"]] == sandbox.state.account_ids()
    assert body["transactions"] == 3 * 30 * 5
    assert body["fault_plan"] == FaultPlan().to_dict()
    assert "test_sk" not in str(body)


def test_put_faults_sets_the_plan(sandbox, mono):
    response = httpx.put(f"{sandbox.base_url}/_sandbox/faults", json={"script": ["502"], "shape": "legacy"})
    assert response.status_code == 200
    assert sandbox.state.fault_plan.shape == "legacy"
    assert mono.get("/v2/accounts").status_code == 502
    bad = httpx.put(f"{sandbox.base_url}/_sandbox/faults", json={"kinds": ["teapot"]})
    assert bad.status_code == 400
    assert "teapot" in bad.json()["error"]


def test_put_secret_rotates_the_key(sandbox, mono):
    assert httpx.put(f"{sandbox.base_url}/_sandbox/secret", json={"secret_key": "test_sk_new"}).status_code == 204
    assert sandbox.state.secret_key == "test_sk_new"
    assert mono.get("/v2/accounts").status_code == 401
    assert httpx.put(f"{sandbox.base_url}/_sandbox/secret", json={}).status_code == 400


def test_added_changed_and_removed_transactions_are_served_with_consistent_balances(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    admin = f"{sandbox.base_url}/_sandbox/accounts/{account}/transactions"
    when = datetime.combine(sandbox.state.end_date - timedelta(days=10), datetime.min.time(), UTC) + timedelta(hours=12)
    created = httpx.post(
        admin,
        json={
            "date": when.isoformat(),
            "amount": 123_400,
            "type": "credit",
            "narration": "NIP/TRF FROM TEST PAYER/GTB",
        },
    )
    assert created.status_code == 201
    txn = created.json()
    assert txn["date"] == when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert txn["category"] is None
    served = mono.get(f"/v2/accounts/{account}/transactions", params={"paginate": "false"}).json()["data"]
    assert len(served) == 151 and txn["id"] in {t["id"] for t in served}
    assert_running_balances(served)

    changed = httpx.patch(
        f"{admin}/{txn['id']}", json={"amount": 99_900_000, "type": "debit", "date": "2000-01-01T00:00:00Z"}
    )
    assert changed.status_code == 200
    assert changed.json()["type"] == "debit"
    served = sandbox.state.transactions(account)
    assert served[-1]["id"] == txn["id"], "moved to the oldest end"
    assert_running_balances(served)

    assert httpx.delete(f"{admin}/{txn['id']}").status_code == 204
    served = sandbox.state.transactions(account)
    assert len(served) == 150
    assert_running_balances(served)
    assert sandbox.state.account(account)["balance"] == served[0]["balance"]


def test_state_methods_keep_balances_consistent(sandbox):
    state = sandbox.state
    account = state.account_ids()[2]
    newest = state.transactions(account)[0]
    added = state.add_transaction(
        account,
        date=datetime.now(UTC) + timedelta(days=1),
        amount=500,
        type="credit",
        narration="USSD TRANSFER FROM 0123***789",
        category="transfer",
    )
    assert added["balance"] == newest["balance"] + 500
    assert state.account(account)["balance"] == added["balance"]
    middle = state.transactions(account)[40]
    state.update_transaction(account, middle["id"], amount=middle["amount"] + 1)
    assert_running_balances(state.transactions(account))
    assert state.account(account)["balance"] == added["balance"] + (1 if middle["type"] == "credit" else -1)
    state.remove_transaction(account, middle["id"])
    assert_running_balances(state.transactions(account))
    assert middle["id"] not in {t["id"] for t in state.transactions(account)}


def test_admin_errors_are_400_and_404(sandbox):
    account = sandbox.state.account_ids()[0]
    base = f"{sandbox.base_url}/_sandbox/accounts"
    assert (
        httpx.post(
            f"{base}/{'0' * 24}/transactions",
            json={"date": "2024-01-01T00:00:00Z", "amount": 1, "type": "debit", "narration": "X"},
        ).status_code
        == 404
    )
    assert httpx.post(f"{base}/{account}/transactions", json={"amount": 1}).status_code == 400
    assert (
        httpx.post(
            f"{base}/{account}/transactions",
            json={"date": "2024-01-01T00:00:00Z", "amount": -5, "type": "debit", "narration": "X"},
        ).status_code
        == 400
    )
    assert httpx.post(f"{base}/{account}/transactions", content=b"not json").status_code == 400
    assert httpx.patch(f"{base}/{account}/transactions/{'f' * 24}", json={"amount": 5}).status_code == 404
    assert (
        httpx.patch(
            f"{base}/{account}/transactions/{sandbox.state.transactions(account)[0]['id']}",
            json={"balance": 5},
        ).status_code
        == 400
    )
    assert httpx.delete(f"{base}/{account}/transactions/{'f' * 24}").status_code == 404


def test_requests_lists_the_mono_api_log(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    sandbox.state.reset_request_log()
    sandbox.state.set_fault_plan(FaultPlan(script=["500"]))
    mono.get(f"/v2/accounts/{account}/transactions", params={"start": "01-01-2024", "end": "02-01-2024"})
    mono.get("/v2/accounts")
    body = httpx.get(f"{sandbox.base_url}/_sandbox/requests").json()
    assert body["count"] == 2
    assert body["requests"][0] == {
        "method": "GET",
        "path": f"/v2/accounts/{account}/transactions",
        "query": {"start": "01-01-2024", "end": "02-01-2024"},
        "status": 500,
        "fault": "500",
    }
    assert body["requests"][1]["status"] == 200
    filtered = httpx.get(f"{sandbox.base_url}/_sandbox/requests", params={"path_prefix": "/v2/accounts/"}).json()
    assert filtered["count"] == 1
    assert sandbox.state.request_count("/v2/accounts/") == 1
    assert httpx.delete(f"{sandbox.base_url}/_sandbox/requests").status_code == 204
    assert sandbox.state.request_count() == 0


def test_reset_restores_the_seeded_data_key_and_no_faults(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    seeded = sandbox.state.transactions(account)
    sandbox.state.remove_transaction(account, seeded[3]["id"])
    sandbox.state.set_secret_key("test_sk_other")
    sandbox.state.set_fault_plan(FaultPlan(rate=1.0))
    assert httpx.post(f"{sandbox.base_url}/_sandbox/reset").status_code == 200
    assert sandbox.state.transactions(account) == seeded
    assert sandbox.state.fault_plan == FaultPlan()
    assert mono.get("/v2/accounts").status_code == 200
