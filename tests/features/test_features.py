"""The Feature contract, through a real App: what a feature declares is wired in, its
lifespan runs in order, and the example of docs/features.md works end to end."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import BaseModel

from roost.app import App, StartupError
from roost.builtin_features import known_tool_names, served_features
from roost.bus.envelope import Delivery
from roost.config.schema import WebSearchConfig
from roost.config.settings import Settings
from roost.features import Feature, FeatureFactory
from roost.ports import CorePorts
from roost.tools.registry import Tool, ToolContext
from tests.fakes.llm_server import FakeLLM
from tests.features.echo_feature import EchoFeature

TIMEOUT = 10.0


def with_tools(settings: Settings, *names: str) -> Settings:
    agents = {
        name: dataclasses.replace(agent, tools=(*agent.tools, *names))
        for name, agent in settings.agents.items()
    }
    return dataclasses.replace(settings, agents=agents)


async def test_the_echo_example_answers_on_its_channel_and_its_tool_writes_notes(
    settings: Settings, fake_llm: FakeLLM
) -> None:
    app = App(with_tools(settings, "echo_note"), [EchoFeature])
    echo = app.feature(EchoFeature)
    await app.start(recover=True)
    try:
        fake_llm.tool_call("echo_note", {"text": "Ada said hi"})
        fake_llm.reply("hello, Ada")
        stored = await echo.say("ada", "hi")
        assert stored.id > 0  # accepted means stored
        got: list[Delivery] = []
        for _ in range(2):
            got.append(await asyncio.wait_for(echo.channel.delivered.get(), TIMEOUT))
        by_target = {delivery.target: delivery.body for delivery in got}
        assert by_target == {"echo:notes": "Ada said hi", "echo:ada": "hello, Ada"}
        assert app.health()["components"]["echo"] == {"state": "ok"}
    finally:
        await app.stop(grace_s=1)
    assert echo.state == "stopped"


class _Recorder(Feature):
    def __init__(self, name: str, log: list[str], fail: str = "") -> None:
        self.name, self._log, self._fail = name, log, fail

    async def start(self) -> None:
        self._log.append(f"start {self.name}")
        if self._fail == "start":
            raise StartupError(f"{self.name}: cannot start")

    async def stop(self) -> None:
        self._log.append(f"stop {self.name}")
        if self._fail == "stop":
            raise RuntimeError(f"{self.name} would not stop")


def recorder(name: str, log: list[str], fail: str = "") -> FeatureFactory:
    return lambda _core: _Recorder(name, log, fail)


async def test_features_start_in_order_and_stop_in_reverse_even_past_a_failure(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []
    app = App(settings, [recorder("a", log), recorder("b", log, "stop"), recorder("c", log)])
    await app.start(recover=True)
    assert log == ["start a", "start b", "start c"]
    with caplog.at_level(logging.ERROR):
        await app.stop(grace_s=1)
    assert log[3:] == ["stop c", "stop b", "stop a"]
    assert "stopping b failed" in caplog.text and "b would not stop" in caplog.text


async def test_a_feature_that_fails_to_start_is_stopped_and_so_are_those_before_it(
    settings: Settings,
) -> None:
    log: list[str] = []
    app = App(settings, [recorder("a", log), recorder("b", log, "start"), recorder("c", log)])
    with pytest.raises(StartupError, match="b: cannot start"):
        await app.start(recover=True)
    await app.stop(grace_s=1)
    assert log == ["start a", "start b", "stop b", "stop a"]


async def test_the_tools_agents_may_list_are_those_of_the_features_present(
    settings: Settings,
) -> None:
    turns_only = App(settings)
    assert "send_message" in turns_only.tools.names()
    assert "schedule_job" not in turns_only.tools.names()
    assert "http_fetch" not in turns_only.tools.names()  # no agent lists it
    # With an agent that lists the web tools and a search backend, every feature is present.
    agent = settings.agents["assistant"]
    settings = dataclasses.replace(
        settings,
        agents={"assistant": dataclasses.replace(agent, tools=(*agent.tools, "http_fetch"))},
        web_search=WebSearchConfig(backend="searxng", url="http://127.0.0.1:9/search"),
    )
    served = App(settings, served_features(settings))
    # The names the configuration accepts are exactly what the built-in features give
    # (notify_owner only where there is an owner's Telegram chat to notify).
    assert sorted(served.tools.names()) == sorted(set(known_tool_names()) - {"notify_owner"})


class _LateArgs(BaseModel):
    pass


class _Growing(Feature):
    """Adds a tool while running, as a feature that discovers its tools (MCP) will."""

    name = "growing"

    def __init__(self, core: CorePorts) -> None:
        self.core = core
        self.added: list[Tool] = []
        self.calls = 0

    def tools(self) -> Sequence[Tool]:
        return self.added

    def add(self) -> None:
        self.added.append(Tool("late_tool", "Added while running.", _LateArgs, self._late))
        self.core.refresh_tools()

    async def _late(self, context: ToolContext, args: _LateArgs) -> str:
        self.calls += 1
        return "late tool ran"


async def test_a_feature_can_add_tools_while_roost_runs(
    settings: Settings, fake_llm: FakeLLM
) -> None:
    app = App(with_tools(settings, "late_tool"), [_Growing])
    growing = app.feature(_Growing)
    await app.start()
    try:
        fake_llm.tool_call("late_tool", {})
        fake_llm.reply("first")
        await app.ask("assistant", "try it", "s")
        assert growing.calls == 0  # not there yet: an error result for the model
        growing.add()
        fake_llm.tool_call("late_tool", {})
        fake_llm.reply("second")
        result = await app.ask("assistant", "try again", "s")
        assert result.ok and growing.calls == 1
        assert "late_tool" in str(fake_llm.requests[-1].body["tools"])
    finally:
        await app.stop(grace_s=1)


def test_the_docs_show_the_echo_example_as_it_is() -> None:
    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "features.md").read_text(encoding="utf-8")
    shown = page.split("<!-- echo-example -->\n```python\n", 1)[1].split("```\n", 1)[0]
    assert shown == (root / "tests" / "features" / "echo_feature.py").read_text(encoding="utf-8")
