"""The gateway as a service: start-up refusals, discovery files, clean shutdown."""

from __future__ import annotations

import dataclasses
import os
import socket
import stat
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from websockets.exceptions import ConnectionClosed

from roost.app import App, StartupError
from roost.config.schema import GatewayConfig
from roost.config.settings import Settings
from roost.gateway.discovery import ENDPOINT_FILE, read_endpoint, read_token_file
from roost.gateway.service import GatewayService
from tests.gateway.conftest import TOKEN, GatewayFactory, WsClient


async def test_a_non_loopback_host_needs_a_configured_token(start_gateway: GatewayFactory) -> None:
    with pytest.raises(StartupError) as refused:
        await start_gateway(host="0.0.0.0", token=None)
    message = str(refused.value)
    assert "gateway.host" in message and "gateway.token" in message


async def test_a_port_in_use_is_a_clear_error(start_gateway: GatewayFactory) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartupError) as refused:
            await start_gateway(port=port)
    assert str(refused.value) == (
        f"gateway.port {port} is in use (another roost run?); set gateway.port"
    )


async def test_discovery_files_and_a_clean_stop(start_gateway: GatewayFactory) -> None:
    gateway = await start_gateway(token=None)  # loopback: the token file is generated
    home = gateway.app.settings.home
    token = read_token_file(home)
    assert token and token != TOKEN
    assert stat.S_IMODE((home / "gateway.token").stat().st_mode) == 0o600
    endpoint = read_endpoint(home)
    assert endpoint is not None and endpoint.pid == os.getpid()
    assert endpoint.http_url == gateway.http_url and endpoint.ws_url == gateway.service.ws_url
    assert gateway.service.token_source == str(home / "gateway.token")

    client = await WsClient.connect(f"{endpoint.ws_url}?token={token}&client=cli")
    await gateway.stop()
    with pytest.raises(ConnectionClosed) as closed:
        await client.frame()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert not (home / ENDPOINT_FILE).exists()
    assert gateway.service.health() == {"state": "stopped"}


class _HookService:
    """A service that serves a route through the gateway with its own check (like Telegram's
    webhook)."""

    name = "hook"

    def webhook_route(self) -> Route:
        async def hook(request: Request) -> Response:
            return PlainTextResponse("hooked")

        return Route("/hooks/test", hook, methods=["POST"])

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> dict[str, Any]:
        return {"state": "ok"}


async def test_another_service_can_serve_a_public_route_through_the_gateway(
    settings: Settings,
) -> None:
    configured = dataclasses.replace(
        settings, gateway=GatewayConfig(port=0, token=SecretStr("the-token"))
    )
    app = App(configured)
    gateway = GatewayService(app)
    app.services.extend([_HookService(), gateway])
    await app.start(recover=True)
    try:
        async with httpx.AsyncClient(base_url=gateway.http_url) as client:
            hooked = await client.post("/hooks/test")  # no gateway token: its own check
            assert hooked.status_code == 200 and hooked.text == "hooked"
            assert (await client.get("/api/agents")).status_code == 401  # the rest still needs it
            health = (await client.get("/healthz")).json()
            assert health["components"]["hook"] == {"state": "ok"}
    finally:
        await app.stop(grace_s=1)
