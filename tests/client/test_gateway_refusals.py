"""The client names the fix for each way a gateway refuses it (a real WebSocket server)."""

from __future__ import annotations

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
