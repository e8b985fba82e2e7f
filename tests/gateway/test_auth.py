"""The token in front of everything but /healthz, and the per-address failure limit."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.gateway.conftest import TIMEOUT, TOKEN, Gateway, GatewayFactory, WsClient


async def close_code(url: str, headers: dict[str, str] | None = None) -> int:
    """The close code the server ends a connection with before saying hello."""
    async with connect(url, additional_headers=headers, open_timeout=TIMEOUT) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_websocket_needs_the_token(gateway: Gateway) -> None:
    assert await close_code(gateway.ws_url(token=None)) == 4401
    assert await close_code(gateway.ws_url(token="wrong")) == 4401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    client = await WsClient.connect(gateway.ws_url(token=None), additional_headers=bearer)
    assert client.hello["agents"] == ["assistant", "coder"]
    await client.close()
    by_query = await gateway.client()
    assert by_query.id.startswith("c-")
    await by_query.close()


async def test_http_needs_the_token_except_healthz_and_openapi(gateway: Gateway) -> None:
    async with gateway.http(token=None) as anonymous, gateway.http(token="wrong") as wrong:
        for client in (anonymous, wrong):
            response = await client.get("/api/agents")
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"
        assert (await anonymous.get("/metrics")).status_code == 401
        assert (await anonymous.get("/healthz")).status_code == 200
        assert (await anonymous.get("/openapi.json")).status_code == 200
        assert (await anonymous.get(f"/api/agents?token={TOKEN}")).status_code == 200
    async with gateway.http() as authorized:
        assert (await authorized.get("/api/agents")).status_code == 200


async def test_too_many_failures_block_the_address_even_with_the_token(
    start_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await start_gateway(auth_failures_per_minute=3)
    caplog.set_level(logging.WARNING, logger="roost.gateway")
    async with gateway.http(token="guess-1") as wrong, gateway.http() as right:
        statuses = [(await wrong.get("/api/agents")).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        assert await close_code(gateway.ws_url(token="guess-2")) == 4429  # the 4th failure
        blocked = await right.get("/api/agents")
        assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "rate_limited"
        assert await close_code(gateway.ws_url()) == 4429
        assert (await right.get("/healthz")).status_code == 200
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 4 and all("127.0.0.1" in line for line in refusals)
    assert not any("guess" in r.getMessage() or TOKEN in r.getMessage() for r in caplog.records)


async def test_invalid_client_ids_get_a_random_one(gateway: Gateway) -> None:
    for bad in ("bad*id", "x" * 65):
        client = await WsClient.connect(gateway.ws_url(client=bad))
        assert client.id.startswith("c-") and len(client.id) > 2
        await client.close()
    named = await gateway.client("laptop:1.home_x-y")
    assert named.id == "laptop:1.home_x-y"
    await named.close()
