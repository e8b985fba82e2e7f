"""The gateway as a service: start-up refusals, discovery files, clean shutdown."""

from __future__ import annotations

import os
import socket
import stat

import pytest
from websockets.exceptions import ConnectionClosed

from roost.app import StartupError
from roost.gateway.discovery import ENDPOINT_FILE, read_endpoint, read_token_file
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
