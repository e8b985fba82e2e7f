"""An MCP stdio server's tools in agent turns, through one running App and one server
for the whole module: these tests neither kill the server nor change its tools, so they
need not pay a server start each (a Python MCP server imports its SDK for about a second;
tests/mcp/test_mcp_stdio.py has those that kill or change it). Each test has its own
agent or session, so none depends on another having run.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from roost.app import App
from roost.approvals.service import ApprovalsService
from roost.builtin_features import served_features
from roost.config.loader import load_settings
from roost.tools.approval import APPROVALS_TOPIC, Decision
from roost.tools.untrusted import untrusted
from tests.conftest import provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.mcp.conftest import TOKEN, stdio_server, wait_for_state

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOSTS_OWN_KEY = "sk-roost-own-key"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[App, Path]]:
    """The App and the file the server writes when ``block`` reaches it."""
    directory = tmp_path_factory.mktemp("mcp-shared")
    marker = directory / "block-called"
    server = stdio_server(
        tools={"block": "ask"},
        env={"NOTES_TOKEN": "${NOTES_TOKEN}", "MCP_TEST_MARKER": str(marker)},
    )
    agent = {"model": "claude/claude-haiku-4-5"}
    config = {
        "home": str(directory / "home"),
        "gateway": {"port": 0, "token": TOKEN},
        "mcp_servers": {"srv": server},
        "agents": {
            "assistant": {**agent, "tools": ["read_file", "mcp:srv"]},
            "globbed": {**agent, "tools": ["mcp:srv/read_*", "mcp:srv/pid"]},
            "envcheck": {**agent, "tools": ["mcp:srv/getenv"]},
        },
    }
    path = directory / "roost.yaml"
    path.write_text(provider_yaml(fake_llm_server) + yaml.safe_dump(config), encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:
        # Roost's own key in its environment, which the server must not inherit.
        env.setenv("ANTHROPIC_API_KEY", ROOSTS_OWN_KEY)
        env.setenv("NOTES_TOKEN", "for-the-server")
        settings = load_settings(path, env=os.environ)
        app = App(settings, served_features(settings))
        await app.start(recover=True)
        try:
            await wait_for_state(app, "srv", "ready")
            yield app, marker
        finally:
            await app.stop(grace_s=1)


def offered_tools(fake_llm: FakeLLM, request: int = 0) -> list[str]:
    return [tool["name"] for tool in fake_llm.requests[request].body.get("tools", [])]


async def test_an_agent_turn_calls_an_mcp_tool_and_gets_its_result(
    shared: tuple[App, Path], fake_llm: FakeLLM
) -> None:
    app, _ = shared
    fake_llm.tool_call("srv__echo", {"text": "hello there"})
    fake_llm.reply("It echoed.")
    result = await app.ask("assistant", "echo something", "turn")
    assert result.ok and result.text == "It echoed."
    assert offered_tools(fake_llm) == [
        "read_file",
        "srv__echo",
        "srv__read_note",
        "srv__write_note",
        "srv__pid",
        "srv__getenv",
        "srv__block",
        "srv__grow",
    ]
    echo_spec = fake_llm.requests[0].body["tools"][1]
    assert echo_spec["description"] == "Echo the text back."
    assert echo_spec["input_schema"]["properties"]["text"]["type"] == "string"
    second = json.dumps(fake_llm.requests[1].body)
    # The result went back to the model, marked as untrusted data from that tool.
    assert json.dumps(untrusted("mcp:srv/echo", "echo: hello there"))[1:-1] in second


async def test_a_stdio_server_gets_its_env_and_none_of_roosts_secrets(
    shared: tuple[App, Path], fake_llm: FakeLLM
) -> None:
    app, _ = shared
    fake_llm.tool_call("srv__getenv", {"name": "ANTHROPIC_API_KEY"})
    fake_llm.tool_call("srv__getenv", {"name": "NOTES_TOKEN"})
    fake_llm.reply("checked")
    await app.ask("envcheck", "check", "env")
    assert offered_tools(fake_llm) == ["srv__getenv"]
    assert "ANTHROPIC_API_KEY is unset" in json.dumps(fake_llm.requests[1].body)
    assert "NOTES_TOKEN is set" in json.dumps(fake_llm.requests[2].body)


async def test_a_glob_offers_only_the_matching_tools(
    shared: tuple[App, Path], fake_llm: FakeLLM
) -> None:
    app, _ = shared
    fake_llm.tool_call("srv__write_note", {"name": "n", "text": "t"})
    fake_llm.reply("ok")
    await app.ask("globbed", "write", "glob")
    assert offered_tools(fake_llm) == ["srv__read_note", "srv__pid"]
    # A tool the agent was not given is refused, though the server has it.
    assert "unknown tool 'srv__write_note'" in json.dumps(fake_llm.requests[1].body)


async def test_an_ask_tool_waits_for_the_owner_through_the_approvals_feature(
    shared: tuple[App, Path], fake_llm: FakeLLM
) -> None:
    app, marker = shared
    requested: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    app.events.subscribe(
        APPROVALS_TOPIC,
        lambda event: (
            requested.put_nowait(event.data) if event.name == "approval.requested" else None
        ),
    )
    fake_llm.tool_call("srv__block", {})
    fake_llm.reply("not allowed")
    turn = asyncio.ensure_future(app.ask("assistant", "block", "ask"))
    asked = await asyncio.wait_for(requested.get(), 30)
    assert (asked["agent"], asked["tool"]) == ("assistant", "srv__block")
    assert not marker.exists()  # nothing reaches the server before the owner decides
    gate = app.feature(ApprovalsService).gate
    await gate.decide(asked["id"], Decision.DENIED, "test:owner")
    assert (await turn).text == "not allowed"
    answer = json.dumps(fake_llm.requests[1].body)
    assert "the owner did not approve this call of srv__block" in answer
    assert not marker.exists()  # the server never saw the call
