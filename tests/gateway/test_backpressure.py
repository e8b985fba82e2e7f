"""A client that sends requests and never reads its answers: bounded memory, then 4408."""

from __future__ import annotations

import base64
import gc
import json
import os
import weakref

from websockets.exceptions import ConnectionClosed

from roost.gateway.connection import Connection
from tests.fakes.llm_server import FakeLLM
from tests.gateway.conftest import Gateway, GatewayFactory, wait_for
from tests.gateway.test_delivery import slow_client

BOUND = 256 * 1024
ANSWER = 100_000
"""Bytes of the one long message whose history the slow client keeps asking for."""


async def _long_session(gateway: Gateway, fake_llm: FakeLLM) -> None:
    fake_llm.reply(base64.b64encode(os.urandom(ANSWER * 3 // 4)).decode())  # incompressible
    async with gateway.http() as http:
        response = await http.post(
            "/api/agents/assistant/messages", json={"text": "a long one", "session": "long"}
        )
        assert response.status_code == 200, response.text


async def test_a_client_that_never_reads_is_bounded_in_bytes_then_dropped(
    start_gateway: GatewayFactory, fake_llm: FakeLLM
) -> None:
    gateway = await start_gateway(send_queue_bytes=BOUND, send_timeout_s=1.0)
    await _long_session(gateway, fake_llm)
    slow = await slow_client(gateway)
    (connection,) = gateway.service.state.clients.of("slow")
    stats = connection.send_stats
    assert stats.max_queued_bytes == BOUND
    watched: weakref.ref[Connection] = weakref.ref(connection)

    request = {"type": "req", "method": "sessions.history"}
    params = {"agent": "assistant", "session": "long"}
    for number in range(200):  # ~20 MB of answers; requests are small, the socket takes them
        await slow.ws.send(json.dumps({**request, "id": number, "params": params}))
    await wait_for(lambda: _closing(watched))  # dropped before this client read anything

    answered, last = 0, {}
    try:
        while True:
            last = await slow.frame()
            answered += last.get("type") == "res"
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4408, closed
    assert 0 < answered < 200  # backpressure: most requests were never read
    assert last["event"] == "error" and last["data"]["code"] == "slow_consumer"
    assert "1s" in last["data"]["message"] and "reconnect" in last["data"]["message"]

    # The close frame is sent after the queue is dropped, so the stats are final now.
    closed_stats = connection.send_stats
    assert closed_stats.queued_bytes == 0, "what was not sent is dropped"
    assert ANSWER < closed_stats.peak_queued_bytes <= BOUND, closed_stats
    del connection
    assert gateway.service.connections == 0
    await wait_for(lambda: _collected(watched))  # nothing keeps the dropped connection
    async with gateway.http() as http:  # the gateway itself is fine
        assert (await http.get("/api/agents/assistant/sessions")).status_code == 200


def _closing(watched: weakref.ref[Connection]) -> bool:
    connection = watched()
    return connection is not None and connection.closing


def _collected(watched: weakref.ref[Connection]) -> bool:
    gc.collect()
    return watched() is None
