"""Accounts endpoints, auth and unknown paths over real HTTP."""

from __future__ import annotations

import httpx

from mono_dagster.sandbox import SandboxConfig, SandboxServer, SandboxState


def test_accounts_are_listed_in_pages_with_quirky_links(sandbox, mono):
    first = mono.get("/v2/accounts", params={"limit": "2"}).json()
    assert first["status"] == "successful"
    assert first["message"] == "Accounts retrieved successfully"
    assert first["meta"] == {
        "total": 3,
        "page": 1,
        "previous": None,
        "next": f"{sandbox.base_url}/v2/accounts?page=2",
    }
    second = mono.get("/v2/accounts", params={"limit": "2", "page": "2"}).json()
    assert second["meta"]["next"] is None
    listed = [account["id"] for account in first["data"] + second["data"]]
    assert listed == sandbox.state.account_ids()
    summary = first["data"][0]
    assert summary["account_number"] == sandbox.state.account(listed[0])["account_number"]
    assert summary["institution"]["name"] == sandbox.state.account(listed[0])["institution"]["name"]
    assert summary["customer"]["id"]


def test_account_details_match_mono_v2_and_the_newest_balance(sandbox, mono):
    account_id = sandbox.state.account_ids()[1]
    response = mono.get(f"/v2/accounts/{account_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "successful"
    assert body["message"] == "Request was succesfully completed"
    data = body["data"]
    assert set(data) == {"account", "customer", "meta"}
    account = data["account"]
    assert account == sandbox.state.account(account_id)
    assert account["type"] == "Digital Savings Account"
    assert set(account["institution"]) == {"name", "bank_code", "type"}
    assert account["balance"] == sandbox.state.transactions(account_id)[0]["balance"]
    assert data["meta"] == {
        "data_status": "AVAILABLE",
        "auth_method": "internet_banking",
        "retrieved_data": ["balance", "transactions"],
    }


def test_an_unknown_account_is_a_404_with_mono_body(sandbox, mono):
    response = mono.get("/v2/accounts/ffffffffffffffffffffffff")
    assert response.status_code == 404
    body = response.json()
    assert (body["status"], body["message"], body["data"]) == ("failed", "Account not found", None)
    assert body["timestamp"].endswith("Z")


def test_every_mono_path_needs_the_secret_key(sandbox):
    account_id = sandbox.state.account_ids()[0]
    paths = [
        "/v2/accounts",
        f"/v2/accounts/{account_id}",
        f"/v2/accounts/{account_id}/transactions",
        f"/v1/accounts/{account_id}/transactions",
        f"/accounts/{account_id}/transactions",
    ]
    for headers in ({}, {"mono-sec-key": "test_sk_wrong"}):
        for path in paths:
            response = httpx.get(sandbox.base_url + path, headers=headers)
            assert response.status_code == 401
            body = response.json()
            assert list(body) == ["status", "message", "timestamp", "data"]
            assert (body["status"], body["message"], body["data"]) == (
                "failed",
                "Unauthorized request.",
                None,
            )


def test_a_rotated_key_is_required_at_once(sandbox, mono):
    sandbox.state.set_secret_key("test_sk_rotated")
    assert mono.get("/v2/accounts").status_code == 401
    assert mono.get("/v2/accounts", headers={"mono-sec-key": "test_sk_rotated"}).status_code == 200


def test_the_configured_key_is_the_one_accepted():
    state = SandboxState(SandboxConfig(accounts=1, days=1, per_day=1, secret_key="live_sk_example"))
    with SandboxServer(state) as server:
        assert (
            httpx.get(f"{server.base_url}/v2/accounts", headers={"mono-sec-key": "live_sk_example"}).status_code == 200
        )
        assert (
            httpx.get(f"{server.base_url}/v2/accounts", headers={"mono-sec-key": "test_sk_sandbox"}).status_code == 401
        )


def test_an_unknown_path_is_a_mono_404_and_is_logged(sandbox, mono):
    sandbox.state.reset_request_log()
    response = mono.get("/v2/customers/abc")
    assert response.status_code == 404
    assert response.json()["message"] == "Cannot GET /v2/customers/abc"
    assert sandbox.state.request_count("/v2/customers") == 1
