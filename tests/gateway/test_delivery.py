"""The outbox side: replies wait for a client that left, and slow clients are dropped."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from roost.bus.envelope import DELIVERY_DELIVERED, Delivery
from roost.bus.events import TRAFFIC
from tests.fakes.llm_server import FakeLLM
from tests.gateway.conftest import TIMEOUT, Gateway, GatewayFactory, WsClient
from tests.gateway.test_ws_methods import chat


async def wait_until(condition: Callable[[], Awaitable[bool]], within: float = TIMEOUT) -> None:
    async with asyncio.timeout(within):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.02)


async def test_a_reply_waits_for_the_client_and_comes_exactly_once(
    gateway: Gateway, fake_llm: FakeLLM
) -> None:
    app = gateway.app
    client = await gateway.client("laptop")
    fake_llm.delay(1)  # the answer comes after the client has left
    sent = await client.result("chat.send", {"agent": "assistant", "text": "while I'm away"})
    await client.close()

    async def postponed() -> bool:
        waiting = await app.bus.pending_for("ws:laptop")
        return bool(waiting) and waiting[0].last_error is not None

    await wait_until(postponed)

    back = await gateway.client("laptop")
    reply = await back.event("chat.reply")
    assert reply["data"]["message_id"] == sent["message_id"]
    assert reply["data"]["text"] == "echo: while I'm away"
    await back.close()

    async def marked_delivered() -> bool:
        deliveries = await app.bus.deliveries_for(envelope_id=sent["message_id"])
        return [d.status for d in deliveries] == [DELIVERY_DELIVERED]

    await wait_until(marked_delivered)  # marked once the frame was written: just after

    again = await gateway.client("laptop")
    fresh = await chat(again, "assistant", "anything new?")
    # Replies to one client go out in order: a duplicate would have come first.
    replies = [e for e in again.backlog if e["event"] in ("chat.reply", "chat.error")]
    assert replies == [] and fresh["text"] == "echo: anything new?"
    await again.close()


async def slow_client(gateway: Gateway) -> WsClient:
    """A client that reads its hello, then nothing: tiny socket buffer, tiny frame queue."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", gateway.service.port))
    return await WsClient.connect(gateway.ws_url("slow"), sock=sock, max_queue=1)


@pytest.mark.parametrize(
    "bound", [{"send_queue": 10}, {"send_queue_bytes": 65_536}], ids=["frames", "bytes"]
)
async def test_a_client_that_does_not_read_is_dropped_and_blocks_nobody(
    start_gateway: GatewayFactory, fake_llm: FakeLLM, bound: dict[str, int]
) -> None:
    gateway = await start_gateway(**bound)
    slow = await slow_client(gateway)
    await slow.result("subscribe", {"topics": [TRAFFIC, "session:assistant:busy"]})
    talker = await gateway.client("talker")
    fake_llm.reply("a long answer " * 200)
    sent = await talker.result("chat.send", {"agent": "assistant", "text": "go", "session": "busy"})

    noise = base64.b64encode(os.urandom(12_288)).decode()  # incompressible (permessage-deflate)
    filler = {"id": 0, "from": "test", "to": "nobody", "text": noise}
    for _ in range(5000):  # bounded: kernel buffers hold a few MB at most
        if gateway.service.connections == 1:
            break
        gateway.app.events.publish(TRAFFIC, "message", filler)
        await asyncio.sleep(0)
    assert gateway.service.connections == 1, "the slow client was never dropped"

    reply = await talker.event("chat.reply")
    assert reply["data"]["message_id"] == sent["message_id"]
    assert (await talker.call("health"))["ok"]

    last: dict[str, Any] = {}
    try:
        while True:
            last = await slow.frame()
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4408
    assert last.get("event") == "error"
    assert last["data"]["code"] == "slow_consumer" and "reconnect" in last["data"]["message"]
    await talker.close()


async def test_what_a_previous_run_left_for_a_client_reaches_it(
    start_gateway: GatewayFactory,
) -> None:
    first = await start_gateway()
    left = Delivery(target="ws:later", sender="agent:assistant", body="left over")
    await first.app.bus.enqueue(left)  # stored, never pushed: as if the process died
    await first.stop()

    second = await start_gateway()  # same home and database
    client = await second.client("later")
    message = await client.event("chat.message")
    assert message["data"] == {
        "from": "agent:assistant",
        "text": "left over",
        "delivery_id": left.id,
    }
    await client.close()


async def test_an_outbox_read_that_races_a_delivery_does_not_send_it_twice(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = gateway.app
    client = await gateway.client("solo")
    note = await app.bus.enqueue(Delivery(target="ws:solo", sender="agent:coder", body="note"))
    read_taken, note_settled = asyncio.Event(), asyncio.Event()
    original = app.bus.pending_for

    async def stale_read(target: str) -> list[Delivery]:
        rows = await original(target)  # still pending when read...
        read_taken.set()
        await note_settled.wait()  # ...and delivered before the read returns
        return rows

    monkeypatch.setattr(app.bus, "pending_for", stale_read)
    reconnect = asyncio.create_task(app.dispatcher.recipient_online("ws:solo"))
    await read_taken.wait()
    app.dispatcher.push([note])
    first = await client.event("chat.message")
    assert first["data"]["delivery_id"] == note.id

    async def settled() -> bool:
        [row] = await app.bus.deliveries_for(ids=[note.id])
        return row.status == DELIVERY_DELIVERED and app.dispatcher.in_flight == 0

    await wait_until(settled)
    note_settled.set()
    await reconnect
    later = await app.bus.enqueue(Delivery(target="ws:solo", sender="agent:coder", body="later"))
    app.dispatcher.push([later])
    # Deliveries to one client go out in order: a repeat would arrive before "later".
    second = await client.event("chat.message")
    assert second["data"]["delivery_id"] == later.id
    await client.close()
