"""A running App with the gateway on a free port, and a small WebSocket test client."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect

from roost.app import App
from roost.builtin_features import gateway_feature
from roost.config.schema import GatewayConfig
from roost.config.settings import Settings
from roost.gateway.service import GatewayService

TOKEN = "test-token"
TIMEOUT = 10.0
"""Upper bound for anything a test waits for; a healthy run takes a fraction of it."""


@dataclass
class Gateway:
    app: App
    service: GatewayService
    stopped: bool = False

    async def stop(self) -> None:
        self.stopped = True
        await self.app.stop(grace_s=1)

    @property
    def http_url(self) -> str:
        return self.service.http_url

    def ws_url(self, client: str | None = None, token: str | None = TOKEN) -> str:
        query = [f"token={token}"] if token is not None else []
        if client is not None:
            query.append(f"client={client}")
        return self.service.ws_url + ("?" + "&".join(query) if query else "")

    def http(self, token: str | None = TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.AsyncClient(base_url=self.http_url, headers=headers, timeout=TIMEOUT)

    async def client(self, client: str | None = None, **options: Any) -> WsClient:
        return await WsClient.connect(self.ws_url(client), **options)


class GatewayFactory(Protocol):
    def __call__(
        self, change: Callable[[Settings], Settings] | None = None, **config: Any
    ) -> Awaitable[Gateway]: ...


@pytest.fixture
async def start_gateway(settings: Settings) -> AsyncIterator[GatewayFactory]:
    """Start an App (recover=True) with the gateway on port 0; stopped at the end."""
    started: list[Gateway] = []

    async def start(change: Callable[[Settings], Settings] | None = None, **config: Any) -> Gateway:
        """``config``: GatewayConfig fields over port 0 and the test token."""
        gateway_config = GatewayConfig(**{"port": 0, "token": SecretStr(TOKEN), **config})
        configured = dataclasses.replace(settings, gateway=gateway_config)
        if change is not None:
            configured = change(configured)
        app = App(configured, [gateway_feature])
        service = app.feature(GatewayService)
        running = Gateway(app, service)
        started.append(running)
        await app.start(recover=True)
        return running

    yield start
    for running in started:
        if not running.stopped:
            await running.stop()


@pytest.fixture
async def gateway(start_gateway: GatewayFactory) -> Gateway:
    return await start_gateway()


class WsClient:
    """Requests with ids; events that arrive meanwhile are kept for ``event()``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.backlog: list[dict[str, Any]] = []
        self._ids = 0
        self.hello: dict[str, Any] = {}

    @classmethod
    async def connect(cls, url: str, **options: Any) -> WsClient:
        ws = await connect(url, open_timeout=TIMEOUT, **options)
        client = cls(ws)
        hello = await client.frame()
        assert hello["type"] == "event" and hello["event"] == "hello", hello
        client.hello = hello["data"]
        return client

    @property
    def id(self) -> str:
        return str(self.hello["client"])

    async def frame(self, within: float = TIMEOUT) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), within)
        assert isinstance(raw, str)
        frame: dict[str, Any] = json.loads(raw)
        return frame

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def response(self, request_id: Any = None) -> dict[str, Any]:
        """The next response (to ``request_id`` if given); events seen meanwhile are kept."""
        while True:
            frame = await self.frame()
            if frame["type"] == "res" and (request_id is None or frame["id"] == request_id):
                return frame
            self.backlog.append(frame)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The response frame of one request."""
        self._ids += 1
        request_id = f"r{self._ids}"
        frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
        if params is not None:
            frame["params"] = params
        await self.ws.send(json.dumps(frame))
        return await self.response(request_id)

    async def result(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.call(method, params)
        assert response["ok"], response
        result: dict[str, Any] = response["result"]
        return result

    async def event(self, *names: str, within: float = TIMEOUT) -> dict[str, Any]:
        """The next event (of one of ``names`` if given), skipping others."""
        while self.backlog:
            frame = self.backlog.pop(0)
            if frame["type"] == "event" and (not names or frame["event"] in names):
                return frame
        while True:
            frame = await self.frame(within)
            if frame["type"] == "event" and (not names or frame["event"] in names):
                return frame

    async def events_until(self, *last: str) -> list[dict[str, Any]]:
        """Every event up to and including the first named ``last``."""
        seen = []
        while True:
            frame = await self.event()
            seen.append(frame)
            if frame["event"] in last:
                return seen

    async def close(self) -> None:
        await self.ws.close()


async def wait_for(condition: Callable[[], bool], within: float = TIMEOUT) -> None:
    """Poll ``condition`` until it holds (a state to reach, not a duration to assert)."""
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)
