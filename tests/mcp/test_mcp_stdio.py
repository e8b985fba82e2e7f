"""MCP stdio servers through a running App: tools offered to the model as
``server__tool``, called in an agent turn through the fake LLM, filtered by globs,
restarted after a crash or a hang, and reported in /healthz and `mcp.list`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.app import App
from roost.approvals.service import ApprovalsService
from roost.gateway.service import GatewayService
from roost.tools.approval import APPROVALS_TOPIC, Decision
from roost.tools.untrusted import untrusted
from tests.fakes.llm_server import FakeLLM
from tests.mcp.conftest import START_S, StartRoost, servers_of, stdio_server, wait_for_state


def offered_tools(fake_llm: FakeLLM, request: int = 0) -> list[str]:
    return [tool["name"] for tool in fake_llm.requests[request].body.get("tools", [])]


async def test_an_agent_turn_calls_an_mcp_tool_and_gets_its_result(
    start_roost: StartRoost, fake_llm: FakeLLM
) -> None:
    app = await start_roost({"srv": stdio_server()}, ["read_file", "mcp:srv"])
    status = await wait_for_state(app, "srv", "ready")
    assert set(status["tools"]) >= {"echo", "read_note", "write_note", "pid", "block", "grow"}
    fake_llm.tool_call("srv__echo", {"text": "hello there"})
    fake_llm.reply("It echoed.")
    result = await app.ask("assistant", "echo something", "s1")
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
    start_roost: StartRoost, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-roost-own-key")
    monkeypatch.setenv("NOTES_TOKEN", "for-the-server")
    server = stdio_server(env={"NOTES_TOKEN": "${NOTES_TOKEN}"})
    app = await start_roost({"srv": server}, ["mcp:srv/getenv"])
    await wait_for_state(app, "srv", "ready")
    fake_llm.tool_call("srv__getenv", {"name": "ANTHROPIC_API_KEY"})
    fake_llm.tool_call("srv__getenv", {"name": "NOTES_TOKEN"})
    fake_llm.reply("checked")
    await app.ask("assistant", "check", "s1")
    assert "ANTHROPIC_API_KEY is unset" in json.dumps(fake_llm.requests[1].body)
    assert "NOTES_TOKEN is set" in json.dumps(fake_llm.requests[2].body)


async def test_a_glob_offers_only_the_matching_tools(
    start_roost: StartRoost, fake_llm: FakeLLM
) -> None:
    app = await start_roost({"srv": stdio_server()}, ["mcp:srv/read_*", "mcp:srv/pid"])
    await wait_for_state(app, "srv", "ready")
    fake_llm.tool_call("srv__write_note", {"name": "n", "text": "t"})
    fake_llm.reply("ok")
    await app.ask("assistant", "write", "s1")
    assert offered_tools(fake_llm) == ["srv__read_note", "srv__pid"]
    # A tool the agent was not given is refused, though the server has it.
    assert "unknown tool 'srv__write_note'" in json.dumps(fake_llm.requests[1].body)


async def test_a_server_killed_mid_call_errors_clearly_and_works_after_its_restart(
    start_roost: StartRoost, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    marker = tmp_path / "blocked"
    server = stdio_server(env={"MCP_TEST_MARKER": str(marker)})
    app = await start_roost({"srv": server}, ["mcp:srv"])
    await wait_for_state(app, "srv", "ready")
    fake_llm.tool_call("srv__block", {})
    fake_llm.reply("the call failed")
    turn = asyncio.create_task(app.ask("assistant", "block", "s1"))
    await _wait_for_file(marker)
    os.kill(int(marker.read_text()), signal.SIGKILL)
    result = await asyncio.wait_for(turn, START_S)
    assert result.ok
    answer = json.dumps(fake_llm.requests[1].body)
    assert "MCP server 'srv' went away during the call; it is being restarted" in answer
    await wait_for_state(app, "srv", "ready")
    fake_llm.tool_call("srv__echo", {"text": "again"})
    fake_llm.reply("back")
    assert (await app.ask("assistant", "echo", "s2")).text == "back"
    assert "echo: again" in json.dumps(fake_llm.requests[3].body)


async def test_a_hanging_call_times_out_and_the_server_is_restarted(
    start_roost: StartRoost, fake_llm: FakeLLM
) -> None:
    app = await start_roost({"srv": stdio_server(timeout_s=1)}, ["mcp:srv"])
    await wait_for_state(app, "srv", "ready")
    fake_llm.tool_call("srv__block", {})
    fake_llm.reply("gave up")
    result = await app.ask("assistant", "block", "s1")
    assert result.text == "gave up"
    answer = json.dumps(fake_llm.requests[1].body)
    assert "MCP server 'srv' did not answer within 1s; it is being restarted" in answer
    await wait_for_state(app, "srv", "ready")
    fake_llm.tool_call("srv__echo", {"text": "after the hang"})
    fake_llm.reply("back")
    assert (await app.ask("assistant", "echo", "s2")).text == "back"
    assert "echo: after the hang" in json.dumps(fake_llm.requests[3].body)


async def test_a_server_that_fails_to_start_does_not_delay_readiness_and_shows_failed(
    start_roost: StartRoost, fake_llm: FakeLLM
) -> None:
    broken = stdio_server(env={"MCP_TEST_FAIL_START": "1"})
    silent = {"command": sys.executable, "args": ["-c", "import time; time.sleep(600)"]}
    servers = {"bad": broken, "missing": {"command": "/nonexistent/mcp"}, "silent": silent}
    app = await start_roost(servers, ["mcp:bad"])
    # start() returned, the gateway listens, and a server that never answers is still
    # starting: readiness did not wait for it.
    gateway = app.feature(GatewayService)
    async with httpx.AsyncClient(base_url=gateway.http_url) as client:
        health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["components"]["mcp"]["servers"]["silent"]["state"] == "starting"
    status = await wait_for_state(app, "missing", "failed")
    assert status["last_error"] == "command not found: /nonexistent/mcp"
    assert "retry_in_s" in status
    bad = await wait_for_state(app, "bad", "failed")
    assert bad["tools"] == []
    async with httpx.AsyncClient(base_url=gateway.http_url) as client:
        health = (await client.get("/healthz")).json()
    component = health["components"]["mcp"]
    assert component["state"] == "degraded"
    assert component["servers"]["missing"]["state"] == "failed"
    # The agent has no tools from it, and still answers.
    fake_llm.reply("fine without it")
    assert (await app.ask("assistant", "hi", "s1")).text == "fine without it"
    assert offered_tools(fake_llm) == []


async def test_an_ask_tool_waits_for_the_owner_through_the_approvals_feature(
    start_roost: StartRoost, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    marker = tmp_path / "called"
    server = stdio_server(tools={"block": "ask"}, env={"MCP_TEST_MARKER": str(marker)})
    app = await start_roost({"srv": server}, ["mcp:srv"])
    await wait_for_state(app, "srv", "ready")
    requested: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    app.events.subscribe(
        APPROVALS_TOPIC,
        lambda event: (
            requested.put_nowait(event.data) if event.name == "approval.requested" else None
        ),
    )
    fake_llm.tool_call("srv__block", {})
    fake_llm.reply("not allowed")
    turn = asyncio.ensure_future(app.ask("assistant", "block", "s1"))
    asked = await asyncio.wait_for(requested.get(), 30)
    assert (asked["agent"], asked["tool"]) == ("assistant", "srv__block")
    assert not marker.exists()  # nothing reaches the server before the owner decides
    gate = app.feature(ApprovalsService).gate
    await gate.decide(asked["id"], Decision.DENIED, "test:owner")
    assert (await turn).text == "not allowed"
    answer = json.dumps(fake_llm.requests[1].body)
    assert "the owner did not approve this call of srv__block" in answer
    assert not marker.exists()  # the server never saw the call


async def test_a_server_that_dies_while_idle_is_restarted_without_waiting_for_a_call(
    start_roost: StartRoost, fake_llm: FakeLLM
) -> None:
    app = await start_roost({"srv": stdio_server()}, ["mcp:srv"])
    await wait_for_state(app, "srv", "ready")
    first = await _server_pid(app, fake_llm, "s1")
    os.kill(first, signal.SIGKILL)
    status = await wait_for_state(app, "srv", "backing off", "starting")
    assert status["last_error"] == "the server closed the connection"
    await wait_for_state(app, "srv", "ready")
    assert await _server_pid(app, fake_llm, "s2") != first


async def test_tools_the_server_adds_while_running_are_offered_after_its_notice(
    start_roost: StartRoost, fake_llm: FakeLLM
) -> None:
    app = await start_roost({"srv": stdio_server()}, ["mcp:srv"])
    await wait_for_state(app, "srv", "ready")
    fake_llm.tool_call("srv__grow", {})
    fake_llm.reply("grown")
    await app.ask("assistant", "grow", "s1")
    deadline = time.monotonic() + START_S
    while "extra" not in servers_of(app)["srv"]["tools"]:
        assert time.monotonic() < deadline, servers_of(app)["srv"]
        await asyncio.sleep(0.02)
    fake_llm.tool_call("srv__extra", {})
    fake_llm.reply("done")
    await app.ask("assistant", "extra", "s2")
    assert "srv__extra" in offered_tools(fake_llm, 2)
    assert "extra here" in json.dumps(fake_llm.requests[3].body)


async def _server_pid(app: App, fake_llm: FakeLLM, session: str) -> int:
    fake_llm.reset()
    fake_llm.tool_call("srv__pid", {})
    fake_llm.reply("ok")
    await app.ask("assistant", "your pid?", session)
    found = re.search(r"pid=([0-9]+)", json.dumps(fake_llm.requests[1].body))
    assert found is not None
    return int(found[1])


async def _wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + START_S
    while not os.path.exists(path):  # noqa: ASYNC240 - a stat, polled briefly
        assert time.monotonic() < deadline, "the call never reached the server"
        await asyncio.sleep(0.02)
