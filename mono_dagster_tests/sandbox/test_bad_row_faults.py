"""The fault plan's bad rows (`served_as`) over real HTTP: each variant in each shape, the admin endpoint,
the client's walk over them, and `mono-dagster sandbox --fault-plan`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest

from mono_dagster.mono import MonoClient, RetrySettings, SecretBackedMonoTokenProvider, TokenBucket
from mono_dagster.mono.window import DateWindow
from mono_dagster.sandbox import FaultPlan


def served(sandbox, mono, path: str = "/v2/accounts/{account}/transactions", account: str | None = None) -> list:
    account = account or sandbox.state.account_ids()[0]
    body = mono.get(path.format(account=account), params={"paginate": "false"}).json()
    data = body["data"]
    return data["transactions"] if isinstance(data, dict) else data


def test_each_variant_is_served_in_place_of_the_stored_transaction(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    stored = sandbox.state.transactions(account)
    first, second, third, fourth, fifth = stored[:5]
    sandbox.state.set_fault_plan(
        FaultPlan(
            served_as={
                first["id"]: [{"set": {"amount": "12,500"}, "drop": ["date", "category"]}],
                second["id"]: [{}, {}, {"drop": ["id"]}],
                third["id"]: [{"pad": {"narration": 5000}}],
                fourth["id"]: [],
                fifth["id"]: [{}, {"from": first["id"], "set": {"type": "refund"}}],
            }
        )
    )
    rows = served(sandbox, mono)
    assert rows[0] == {
        key: value for key, value in {**first, "amount": "12,500"}.items() if key not in ("date", "category")
    }
    assert rows[1:4] == [second, second, {key: value for key, value in second.items() if key != "id"}]
    assert rows[4]["narration"] == third["narration"] + "X" * (5000 - len(third["narration"]))
    assert rows[5:7] == [fifth, {**first, "type": "refund"}]  # the fourth is not served at all
    assert len(rows) == len(stored) + 2
    assert sandbox.state.transactions(account)[:5] == stored[:5], "the ledger is untouched"


def test_copies_shift_the_pages_and_the_total_counts_them(sandbox, mono):
    account = sandbox.state.account_ids()[0]
    stored = sandbox.state.transactions(account)
    sandbox.state.set_fault_plan(FaultPlan(served_as={stored[-1]["id"]: [{}, {"from": stored[0]["id"]}]}))
    pages = [
        mono.get(f"/v2/accounts/{account}/transactions", params={"page": page, "limit": 50}).json()
        for page in (1, 2, 3, 4)
    ]
    assert {page["meta"]["total"] for page in pages} == {len(stored) + 1}
    everything = [txn for page in pages for txn in page["data"]]
    assert [txn["id"] for txn in everything].count(stored[0]["id"]) == 2
    assert everything[0] == everything[-1] == stored[0]


@pytest.mark.parametrize(
    ("path", "id_field"), [("/v1/accounts/{account}/transactions", "id"), ("/accounts/{account}/transactions", "_id")]
)
def test_dropped_fields_stay_absent_in_the_older_shapes(sandbox, mono, path, id_field):
    account = sandbox.state.account_ids()[0]
    stored = sandbox.state.transactions(account)[0]
    sandbox.state.set_fault_plan(
        FaultPlan(served_as={stored["id"]: [{"drop": ["amount", "id"]}, {"set": {"currency": "XOF", "amount": -1}}]})
    )
    rows = served(sandbox, mono, path)
    assert "amount" not in rows[0] and id_field not in rows[0] and rows[0]["currency"] == "NGN"
    assert (rows[1][id_field], rows[1]["currency"], rows[1]["amount"]) == (stored["id"], "XOF", -1)


def test_the_admin_endpoint_sets_bad_rows_and_names_what_is_wrong(sandbox, mono):
    first_account, other_account = sandbox.state.account_ids()[:2]
    mine = sandbox.state.transactions(first_account)[0]["id"]
    theirs = sandbox.state.transactions(other_account)[0]["id"]
    admin = f"{sandbox.base_url}/_sandbox/faults"
    accepted = httpx.put(admin, json={"served_as": {mine: [{"drop": ["type"]}]}})
    assert accepted.status_code == 200 and accepted.json()["served_as"] == {
        mine: [{"set": {}, "drop": ["type"], "pad": {}}]
    }
    assert "type" not in served(sandbox, mono)[0]
    refusals = {
        "unknown transaction": ({"served_as": {"f" * 24: [{}]}}, 404, "ffffffffffffffffffffffff"),
        "copy from another account": ({"served_as": {mine: [{"from": theirs}]}}, 404, theirs),
        "unknown variant key": ({"served_as": {mine: [{"delete": ["id"]}]}}, 400, "unknown variant keys delete"),
        "drop is not a list": ({"served_as": {mine: [{"drop": "id"}]}}, 400, "'drop' must be a list"),
        "pad too long": ({"served_as": {mine: [{"pad": {"narration": 10**9}}]}}, 400, "'pad' must map"),
        "both lists": ({"malformed": {mine: {"amount": 1}}, "served_as": {mine: [{}]}}, 400, "both malformed"),
    }
    for case, (body, status, message) in refusals.items():
        refused = httpx.put(admin, json=body)
        assert (refused.status_code, message in refused.json()["error"]) == (status, True), case
    assert "type" not in served(sandbox, mono)[0], "a refused plan leaves the active one in place"


def test_the_client_keeps_one_copy_of_an_identical_duplicate_and_both_versions_of_a_conflict(sandbox):
    account = sandbox.state.account_ids()[0]
    end = sandbox.state.end_date
    window = DateWindow(end - timedelta(days=3), end)
    stored = sandbox.state.transactions(account, window.start, window.end)
    same, changed = stored[0], stored[1]
    sandbox.state.set_fault_plan(
        FaultPlan(
            served_as={
                stored[-1]["id"]: [{}, {"from": same["id"]}],  # across pages: same content
                stored[-2]["id"]: [{}, {"from": changed["id"], "set": {"narration": "ANOTHER VERSION"}}],
            }
        )
    )
    client = MonoClient(
        token_provider=SecretBackedMonoTokenProvider(loader=lambda: sandbox.state.secret_key, env_var=None),
        base_url=sandbox.base_url,
        rate_limiter=TokenBucket(1000, 1000),
        retry=RetrySettings(max_attempts=2, base_delay_seconds=0.0, max_delay_seconds=0.0),
        page_size=6,
    )
    with client:
        result = client.fetch_transactions(account, window)
    ids = [txn["id"] for txn in result.transactions]
    assert len(result.pages) > 2
    assert (result.duplicates_dropped, ids.count(same["id"]), ids.count(changed["id"])) == (1, 1, 2)
    assert len(ids) == len(stored) + 1


def test_the_sandbox_command_serves_a_fault_plan_file(tmp_path):
    plan = tmp_path / "bad_rows.json"
    plan.write_text(json.dumps({"malformed": {}, "served_as": {}, "duplicate_across_pages": True}))
    process = subprocess.Popen(
        [sys.executable, "-m", "mono_dagster.cli", "sandbox", "--port", "0", "--accounts", "1", "--days", "2",
         "--fault-plan", str(plan)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MONO_SECRET_KEY": "test_sk_sandbox"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().split(" on ", 1)[1].strip()
        state = httpx.get(f"{base_url}/_sandbox/state").json()
        assert state["fault_plan"]["duplicate_across_pages"] is True
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not a readable JSON file"),
        ("[]", "must hold a JSON object"),
        (json.dumps({"served_as": {"f" * 24: [{}]}}), "bad fault plan"),
        (json.dumps({"served_as": {"f" * 24: [{"drop": "id"}]}}), "'drop' must be a list"),
    ],
)
def test_a_bad_fault_plan_file_is_a_one_line_error(tmp_path, content, message):
    plan = tmp_path / "plan.json"
    plan.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "mono_dagster.cli", "sandbox", "--port", "0", "--fault-plan", str(plan)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and message in done.stderr, done.stderr
