"""The token in front of everything but /healthz, the Host/Origin checks before it, and the
failure limits (per address and in total) that never keep the right token out."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.gateway.conftest import TIMEOUT, TOKEN, Gateway, GatewayFactory, WsClient


async def closed_with(url: str, **options: Any) -> tuple[int, str]:
    """The close code and reason the server ends a connection with before saying hello."""
    async with connect(url, open_timeout=TIMEOUT, **options) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def close_code(url: str, headers: dict[str, str] | None = None, **options: Any) -> int:
    code, _ = await closed_with(url, additional_headers=headers, **options)
    return code


def from_address(gateway: Gateway, source: str, token: str | None = TOKEN) -> httpx.AsyncClient:
    """An HTTP client whose connections come from ``source`` (any 127.x.y.z on Linux)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(
        base_url=gateway.http_url, headers=headers, transport=transport, timeout=TIMEOUT
    )


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


async def test_only_the_first_authorization_header_is_tried(gateway: Gateway) -> None:
    # One request is one failure to the limiter: more headers must not be more guesses.
    guesses = [("Authorization", f"Bearer {guess}") for guess in ("guess 1", "guess 2", TOKEN)]
    async with httpx.AsyncClient(base_url=gateway.http_url, timeout=TIMEOUT) as http:
        assert (await http.get("/api/agents", headers=guesses)).status_code == 401


async def test_too_many_failures_refuse_the_address_but_never_the_token(
    start_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await start_gateway(auth_failures_per_minute=3)
    caplog.set_level(logging.WARNING, logger="roost.gateway")
    async with gateway.http(token="guess-1") as wrong, gateway.http() as right:
        statuses = [(await wrong.get("/api/agents")).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        assert await close_code(gateway.ws_url(token="guess-2")) == 4429  # the 4th failure
        limited = await wrong.get("/api/agents")
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
        assert limited.headers["Retry-After"] == "60"
        assert (await right.get("/api/agents")).status_code == 200
        client = await gateway.client()
        await client.close()
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 4 and all("127.0.0.1" in line for line in refusals)
    assert "too many failures from this address" in refusals[-1]
    assert not any("guess" in r.getMessage() or TOKEN in r.getMessage() for r in caplog.records)


async def test_eleven_requests_without_a_token_do_not_lock_the_owner_out(
    gateway: Gateway,
) -> None:
    """What any web page can send to 127.0.0.1 (no-cors, no Origin on a GET) does not keep
    the owner's token out (default limit: 10 failures a minute)."""
    async with gateway.http(token=None) as anonymous, gateway.http() as owner:
        statuses = [(await anonymous.get("/api/agents")).status_code for _ in range(11)]
        assert statuses == [401] * 10 + [429]
        assert await close_code(gateway.ws_url(token=None)) == 4429
        assert (await owner.get("/api/agents")).status_code == 200
        response = await owner.post("/api/agents/nobody/messages", json={"text": "hi"})
        assert response.json()["error"]["code"] == "unknown_agent"  # got past the auth
    client = await gateway.client("owner")
    assert client.id == "owner"
    await client.close()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    by_header = await WsClient.connect(gateway.ws_url(token=None), additional_headers=bearer)
    await by_header.close()


async def test_websocket_failures_do_not_lock_the_owner_out(gateway: Gateway) -> None:
    codes = [await close_code(gateway.ws_url(token=None)) for _ in range(11)]
    assert codes == [4401] * 10 + [4429]
    client = await gateway.client()
    await client.close()
    async with gateway.http() as owner:
        assert (await owner.get("/api/agents")).status_code == 200


async def test_a_foreign_origin_is_refused_and_not_counted(
    start_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await start_gateway(
        auth_failures_per_minute=2, allowed_origins=["http://localhost:5173"]
    )
    caplog.set_level(logging.WARNING, logger="roost.gateway")
    evil = {"Origin": "https://evil.example"}
    async with gateway.http(token=None) as anonymous, gateway.http() as owner:
        for _ in range(5):
            refused = await anonymous.get("/api/agents", headers=evil)
            assert refused.status_code == 403
            error = refused.json()["error"]
            assert error["code"] == "forbidden" and "gateway.allowed_origins" in error["message"]
        # Even with the token: a page must not use a token it got hold of.
        assert (await owner.get("/api/agents", headers=evil)).status_code == 403
        code, reason = await closed_with(gateway.ws_url(token=None), origin="https://evil.example")
        assert (code, reason) == (4403, "origin not allowed (gateway.allowed_origins)")
        # A no-cors GET carries no Origin, but the browser says where it comes from.
        cross_site = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
        assert (await anonymous.get("/api/agents", headers=cross_site)).status_code == 403
        assert (await owner.get("/api/agents", headers={"Origin": "null"})).status_code == 403
        # None of that counted as a failure: the address still gets 401, not 429.
        assert (await anonymous.get("/api/agents")).status_code == 401
        own_page = {"Origin": gateway.http_url, "Sec-Fetch-Site": "same-origin"}
        assert (await owner.get("/api/agents", headers=own_page)).status_code == 200
        listed = {"Origin": "http://LOCALHOST:5173", "Sec-Fetch-Site": "same-site"}
        assert (await owner.get("/api/agents", headers=listed)).status_code == 200
        typed = {"Sec-Fetch-Site": "none"}  # the user opened the URL in the address bar
        assert (await owner.get("/api/agents", headers=typed)).status_code == 200
        assert (await anonymous.get("/healthz", headers=evil)).status_code == 200
        document = (await anonymous.get("/openapi.json")).json()
        assert "403" in document["paths"]["/api/agents"]["get"]["responses"]
    client = await gateway.client(origin=gateway.http_url)
    await client.close()
    client = await gateway.client(origin="http://localhost:5173")
    await client.close()
    refusals = [r.getMessage() for r in caplog.records if "Origin" in r.getMessage()]
    assert len(refusals) == 1  # one line a minute, however often a page tries


async def test_a_rebinding_host_is_refused(start_gateway: GatewayFactory) -> None:
    gateway = await start_gateway(allowed_hosts=["roost.example.com"])
    port = gateway.service.port
    async with gateway.http() as owner:
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}"):
            refused = await owner.get("/api/agents", headers={"Host": host})
            assert refused.status_code == 403, host
            assert "gateway.allowed_hosts" in refused.json()["error"]["message"]
        for host in (f"localhost:{port}", f"[::1]:{port}", "roost.example.com", "10.1.2.3:80"):
            allowed = await owner.get("/api/agents", headers={"Host": host})
            assert allowed.status_code == 200, host
    url = f"ws://evil.example:{port}/ws?token={TOKEN}"
    code, reason = await closed_with(url, host="127.0.0.1", port=port)
    assert (code, reason) == (4403, "host not allowed (gateway.allowed_hosts)")
    client = await WsClient.connect(
        f"ws://roost.example.com:{port}/ws?token={TOKEN}", host="127.0.0.1", port=port
    )
    await client.close()


async def test_varying_the_source_address_hits_the_total_cap(gateway: Gateway) -> None:
    """40 wrong tokens from 127.0.0.2-41: per address (10 a minute) none is over, but
    after 30 in all (auth_failures_per_minute_total) the rest get 429. The token still
    works, from a fresh address and from one of those."""
    statuses = []
    for n in range(2, 42):
        async with from_address(gateway, f"127.0.0.{n}", token=f"guess-{n}") as guesser:
            statuses.append((await guesser.get("/api/agents")).status_code)
    assert statuses == [401] * 30 + [429] * 10
    code = await close_code(gateway.ws_url(token="guess"), local_addr=("127.0.0.42", 0))
    assert code == 4429
    for source in ("127.0.0.60", "127.0.0.2"):
        async with from_address(gateway, source) as owner:
            assert (await owner.get("/api/agents")).status_code == 200
    client = await WsClient.connect(gateway.ws_url(), local_addr=("127.0.0.61", 0))
    await client.close()


async def test_invalid_client_ids_get_a_random_one(gateway: Gateway) -> None:
    for bad in ("bad*id", "x" * 65):
        client = await WsClient.connect(gateway.ws_url(client=bad))
        assert client.id.startswith("c-") and len(client.id) > 2
        await client.close()
    named = await gateway.client("laptop:1.home_x-y")
    assert named.id == "laptop:1.home_x-y"
    await named.close()
