"""The client against real WebSocket servers that misbehave as a gateway can: refusing a
Host, or sending a reply again after a crash."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.server import ServerConnection, serve

from roost.client.gateway_client import GatewayAuthError, GatewayClient


async def _refuse_host(websocket: ServerConnection) -> None:
    # What the gateway does for a Host it does not know: accept, then close 4403.
    await websocket.close(4403, "host not allowed (gateway.allowed_hosts)")


@pytest.fixture
async def refusing_gateway() -> AsyncIterator[str]:
    async with serve(_refuse_host, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws"


async def test_a_refused_host_names_allowed_hosts_not_the_token(refusing_gateway: str) -> None:
    with pytest.raises(GatewayAuthError) as refused:
        await GatewayClient.connect(refusing_gateway, "the-right-token")
    message = str(refused.value)
    assert "gateway.allowed_hosts" in message and "4403" in message
    assert "refused the token" not in message
    assert "the-right-token" not in message


async def _hello_then_replies(websocket: ServerConnection) -> None:
    """A gateway that, as after a crash between sending a reply and marking it
    delivered, sends delivery 7 on every connection, then a new one once."""
    await websocket.send(json.dumps({"type": "event", "event": "hello", "data": {}}))
    for delivery_id, text in ((7, "seven"), (7, "seven"), (8 + _connections(), "new")):
        data = {"delivery_id": delivery_id, "text": text, "status": "ok"}
        await websocket.send(json.dumps({"type": "event", "event": "chat.reply", "data": data}))
    await websocket.wait_closed()


_COUNT = itertools.count()


def _connections() -> int:
    return next(_COUNT)


@pytest.fixture
async def repeating_gateway() -> AsyncIterator[str]:
    async with serve(_hello_then_replies, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws"


async def test_a_reply_sent_again_is_handed_out_once_across_reconnects(
    repeating_gateway: str,
) -> None:
    client = await GatewayClient.connect(repeating_gateway, "t", "repeats")
    first = [await client.next_event(wait_s=10) for _ in range(2)]
    again = await client.reconnect(within_s=10)
    second = await again.next_event(wait_s=10)
    await again.close()
    texts = [event.data["text"] for event in (*first, second) if event is not None]
    assert texts == ["seven", "new", "new"]
    ids = [event.data["delivery_id"] for event in (*first, second) if event is not None]
    assert len(set(ids)) == 3  # each "new" is another delivery; only 7 was repeated
