"""A serving App (gateway on port 0) whose agent ``ops`` has the shell in ``ask`` mode."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from roost.agents.turn import TurnResult
from roost.app import App
from roost.builtin_features import gateway_feature
from roost.bus.envelope import Envelope, agent_address
from roost.bus.events import Event
from roost.config.loader import load_settings
from roost.config.settings import Settings
from roost.tools.approval import APPROVALS_TOPIC
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM

TOKEN = "test-gateway-token-for-approvals"
TIMEOUT = 20.0


@dataclass
class Roost:
    app: App
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)

    @property
    def workspace(self) -> Path:
        return self.app.settings.agents["ops"].workspace

    def ask(self, text: str, session: str = "s1") -> asyncio.Task[TurnResult]:
        envelope = Envelope(
            sender="test:owner", recipient=agent_address("ops"), session=session, body=text
        )
        return asyncio.create_task(self.app.router.ask(envelope, timeout_s=TIMEOUT))

    async def event(self, name: str) -> dict[str, Any]:
        """The next approvals event called ``name`` (others are skipped)."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                found = await self.events.get()
                if found.name == name:
                    return found.data

    async def stop(self) -> None:
        await self.app.stop(grace_s=1)


RoostFactory = Callable[..., Awaitable[Roost]]


def approvals_settings(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path, **extra: Any
) -> Settings:
    shell = extra.get("shell", '{mode: ask, allow: ["echo *"]}')
    path = write_config(
        provider_yaml(fake_llm)
        + textwrap.dedent(
            f"""\
            home: {tmp_path / "home"}
            max_concurrent_turns: {extra.get("max_turns", 4)}
            approvals: {{timeout_s: {extra.get("timeout_s", 60)}}}
            shell: {{sandbox: {extra.get("sandbox", "auto")}}}
            gateway: {{port: 0, token: {TOKEN}}}
            agents:
              ops:
                model: claude/claude-haiku-4-5
                tools: [shell]
                shell: {shell}
            """
        )
        + extra.get("more", "")
    )
    return load_settings(path, env=os.environ)


@pytest.fixture
async def start_roost(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> AsyncIterator[RoostFactory]:
    started: list[Roost] = []

    async def start(**extra: Any) -> Roost:
        settings = approvals_settings(fake_llm, write_config, tmp_path, **extra)
        if "change" in extra:
            settings = extra["change"](settings)
        features = extra.get("features", [gateway_feature])
        app = App(settings, features)
        roost = Roost(app)
        app.events.subscribe(APPROVALS_TOPIC, roost.events.put_nowait)
        await app.start(recover=True)
        started.append(roost)
        return roost

    yield start
    for roost in started:
        if roost.app.router.accepting:
            await roost.stop()


def tool_results(fake_llm: FakeLLM) -> str:
    """Everything the model was sent, as text (tool results included)."""
    return "\n".join(json.dumps(request.body) for request in fake_llm.requests)
