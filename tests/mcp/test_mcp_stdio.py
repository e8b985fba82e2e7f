"""MCP stdio servers through a running App, each test with its own server because it
kills it, hangs it, changes its tools or starts broken ones: restarted after a crash or
a hang, reported in /healthz and `mcp.list`. Tests that leave the server as it was
share one (test_mcp_shared_server.py)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import httpx

from roost.app import App
from roost.gateway.service import GatewayService
from tests.fakes.llm_server import FakeLLM
from tests.mcp.conftest import START_S, StartRoost, servers_of, stdio_server, wait_for_state


def offered_tools(fake_llm: FakeLLM, request: int = 0) -> list[str]:
    return [tool["name"] for tool in fake_llm.requests[request].body.get("tools", [])]


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
    # Reads and never answers; gone as soon as its stdin closes (no wait at the stop).
    silent = {"command": sys.executable, "args": ["-c", "import sys; sys.stdin.read()"]}
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
