"""A running App with the gateway and the OpenAI-compatible API, and clients for it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest
from openai import AsyncOpenAI
from pydantic import SecretStr

from roost.app import App
from roost.builtin_features import gateway_feature
from roost.config.schema import GatewayConfig
from roost.config.settings import Settings
from roost.gateway.service import GatewayService
from roost.openai_api.service import OpenAIFeature
from tests.fakes.llm_server import FakeLLM
from tests.gateway.conftest import TIMEOUT, TOKEN, WsClient

SDK_TIMEOUT = 120.0
"""Upper bound for a turn: generous, as a first turn imports the provider's SDK, which is
slow on a busy machine (a healthy run takes a fraction of it)."""

__all__ = ["TIMEOUT", "TOKEN", "Roost", "RoostFactory"]


@dataclass
class Roost:
    app: App
    gateway: GatewayService

    @property
    def base_url(self) -> str:
        return f"{self.gateway.http_url}/v1"

    def openai(self, token: str = TOKEN, **headers: str) -> AsyncOpenAI:
        """The official SDK, as any OpenAI client would be set up (no retries, to see errors)."""
        return AsyncOpenAI(
            base_url=self.base_url,
            api_key=token,
            max_retries=0,
            timeout=SDK_TIMEOUT,
            default_headers=headers or None,
        )

    def http(self, token: str | None = TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.AsyncClient(
            base_url=self.gateway.http_url, headers=headers, timeout=SDK_TIMEOUT
        )

    async def ws(self) -> WsClient:
        return await WsClient.connect(f"{self.gateway.ws_url}?token={TOKEN}")

    async def sessions(self, agent: str = "assistant") -> list[dict[str, Any]]:
        async with self.http() as http:
            response = await http.get(f"/api/agents/{agent}/sessions")
        sessions: list[dict[str, Any]] = response.json()["sessions"]
        return sessions

    async def history(self, session: str, agent: str = "assistant") -> list[dict[str, Any]]:
        async with self.http() as http:
            response = await http.get(f"/api/agents/{agent}/sessions/{session}/messages")
        if response.status_code == 404:
            return []  # no message stored yet
        assert response.status_code == 200, response.text
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages


def sent_messages(fake_llm: FakeLLM) -> list[tuple[str, str]]:
    """(role, text) of the messages the model got in its last call (Anthropic format)."""
    out = []
    for message in fake_llm.last_request.body["messages"]:
        content = message["content"]
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content)
        out.append((message["role"], content))
    return out


def sent_system(fake_llm: FakeLLM) -> str:
    system = fake_llm.last_request.body.get("system", "")
    return system if isinstance(system, str) else "".join(part["text"] for part in system)


class RoostFactory(Protocol):
    def __call__(
        self, change: Callable[[Settings], Settings] | None = None, **gateway: Any
    ) -> Awaitable[Roost]: ...


@pytest.fixture
async def start_roost(settings: Settings) -> AsyncIterator[RoostFactory]:
    """Start an App with the gateway (port 0) and the OpenAI API; stopped at the end."""
    started: list[App] = []

    async def start(change: Callable[[Settings], Settings] | None = None, **gateway: Any) -> Roost:
        config = GatewayConfig(**{"port": 0, "token": SecretStr(TOKEN), **gateway})
        configured = dataclasses.replace(settings, gateway=config)
        if change is not None:
            configured = change(configured)
        app = App(configured, [gateway_feature, OpenAIFeature])
        started.append(app)
        await app.start(recover=True)
        return Roost(app, app.feature(GatewayService))

    yield start
    for app in started:
        await app.stop(grace_s=1)  # again for one a test stopped: harmless


@pytest.fixture
async def roost(start_roost: RoostFactory) -> Roost:
    return await start_roost()
