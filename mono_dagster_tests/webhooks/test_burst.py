"""A bounded burst on loopback: 1,000 distinct deliveries, a fifth of them sent twice at the same time,
through a real uvicorn server from 16 concurrent client threads. None is lost and none is stored twice."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx

from mono_dagster.webhooks.verify import hmac_sha512_hex
from mono_dagster_tests.webhooks.conftest import SECRET

DELIVERIES = 1_000
REPLAYED = 200
CONCURRENCY = 16


def body(number: int) -> bytes:
    account = f"{number:024x}"
    event = "mono.events.account_updated" if number % 2 else "mono.events.reauthorisation_required"
    return json.dumps({"event": event, "data": {"account": {"_id": account}, "n": number}}).encode()


def deliver_all(url: str, bodies: list[bytes]) -> list[int]:
    """Sends every body from CONCURRENCY threads sharing one httpx client (its pool is thread-safe).

    Threads rather than an asyncio client: with the server's event loop in another thread of this same
    process, an asyncio client spends most of its time waiting for the GIL between the two loops.
    """
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    with httpx.Client(limits=limits, timeout=60.0) as client, ThreadPoolExecutor(CONCURRENCY) as pool:

        def send(index: int) -> int:
            content = bodies[index]
            # Half signed with the secret itself, half with the body's HMAC: both schemes under load.
            header = SECRET if index % 2 else hmac_sha512_hex(content, SECRET.encode())
            return client.post(url, content=content, headers={"mono-webhook-secret": header}).status_code

        return list(pool.map(send, range(len(bodies))))


def test_a_burst_of_deliveries_is_stored_exactly_once_each(receiver, inbox):
    bodies = [body(number) for number in range(DELIVERIES)]
    # Replays interleaved with the originals, so both copies are in flight together.
    burst = [copy for number, content in enumerate(bodies) for copy in [content] * (2 if number < REPLAYED else 1)]
    statuses = deliver_all(receiver.webhook_url, burst)
    assert len(statuses) == DELIVERIES + REPLAYED
    assert set(statuses) == {200}
    rows = inbox()
    assert len(rows) == DELIVERIES
    assert sorted(json.loads(row["payload"])["data"]["n"] for row in rows) == list(range(DELIVERIES))
    assert len({row["delivery_key"] for row in rows}) == DELIVERIES
