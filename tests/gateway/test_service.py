"""The gateway as a service: start-up refusals, discovery files, clean shutdown."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import stat
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from websockets.exceptions import ConnectionClosed

from roost.app import App, StartupError
from roost.builtin_features import gateway_feature
from roost.config.schema import GatewayConfig
from roost.config.settings import Settings
from roost.features import Feature, HttpRoute
from roost.gateway.discovery import ENDPOINT_FILE, read_endpoint, read_token_file
from roost.gateway.service import GatewayService
from roost.ports import CorePorts
from tests.gateway.conftest import TOKEN, GatewayFactory, WsClient


async def test_off_loopback_a_short_token_is_refused(
    start_gateway: GatewayFactory, settings: Settings
) -> None:
    with pytest.raises(StartupError) as refused:
        await start_gateway(host="0.0.0.0", token=SecretStr("x" * 31))
    message = str(refused.value)
    assert "gateway.host is 0.0.0.0" in message and "shorter than 32 characters" in message
    assert "Leave gateway.token unset" in message and "secrets.token_urlsafe(32)" in message
    assert "x" * 31 not in message
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "gateway.token").write_text("hunter2\n", encoding="utf-8")
    with pytest.raises(StartupError) as refused:
        await start_gateway(host="0.0.0.0", token=None)
    assert str(settings.home / "gateway.token") in str(refused.value)
    assert "hunter2" not in str(refused.value)


async def test_off_loopback_the_gateway_warns_and_a_generated_token_will_do(
    start_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="roost.gateway")
    loopback = await start_gateway(token=SecretStr("short"))  # accepted on loopback
    await loopback.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    gateway = await start_gateway(host="0.0.0.0", token=None)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "gateway on 0.0.0.0 is reachable from other machines: the token is the only "
        "protection and traffic is not encrypted (no TLS); put a TLS proxy in front or use "
        "gateway.host: 127.0.0.1"
    ]
    token = read_token_file(gateway.app.settings.home)
    assert token is not None and len(token) >= 32
    async with httpx.AsyncClient(base_url=gateway.http_url, timeout=10) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/agents", headers=headers)).status_code == 200


async def test_a_port_in_use_is_a_clear_error(start_gateway: GatewayFactory) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartupError) as refused:
            await start_gateway(port=port)
    message = str(refused.value)
    assert message.startswith(f"gateway.port {port} is in use by ")
    assert f"(pid {os.getpid()})" in message  # this test holds it
    assert message.endswith("set gateway.port or start with `roost run --port N`")


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


class _HookFeature(Feature):
    """A feature that serves a route through the gateway with its own check (like
    Telegram's webhook), and one behind the gateway token."""

    name = "hook"

    def __init__(self, core: CorePorts) -> None:
        self.core = core

    def http_routes(self) -> Sequence[HttpRoute]:
        async def hook(request: Request) -> Response:
            return PlainTextResponse("hooked")

        async def private(request: Request) -> Response:
            return PlainTextResponse("private")

        return [
            HttpRoute(Route("/hooks/test", hook, methods=["POST"]), public=True),
            HttpRoute(Route("/hooks/private", private)),
        ]

    def health(self) -> dict[str, Any]:
        return {"state": "ok"}


async def test_another_feature_serves_public_and_protected_routes_through_the_gateway(
    settings: Settings,
) -> None:
    configured = dataclasses.replace(
        settings, gateway=GatewayConfig(port=0, token=SecretStr("the-token"))
    )
    app = App(configured, [_HookFeature, gateway_feature])
    gateway = app.feature(GatewayService)
    await app.start(recover=True)
    try:
        async with httpx.AsyncClient(base_url=gateway.http_url) as client:
            hooked = await client.post("/hooks/test")  # no gateway token: its own check
            assert hooked.status_code == 200 and hooked.text == "hooked"
            assert (await client.get("/api/agents")).status_code == 401  # the rest still needs it
            assert (await client.get("/hooks/private")).status_code == 401
            authorized = {"Authorization": "Bearer the-token"}
            private = await client.get("/hooks/private", headers=authorized)
            assert private.status_code == 200 and private.text == "private"
            health = (await client.get("/healthz")).json()
            assert health["components"]["hook"] == {"state": "ok"}
    finally:
        await app.stop(grace_s=1)
