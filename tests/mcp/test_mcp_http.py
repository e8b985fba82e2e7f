"""A streamable-HTTP MCP server (the SDK's, in a subprocess on port 0) through a
running App: its tools are called with the configured headers, and the header values
(secrets) appear in no output: /healthz, `mcp.list`, `roost mcp list --json`, tool
results, errors, the log, the store."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from roost.app import App
from roost.gateway.service import GatewayService
from tests.fakes.llm_server import FakeLLM
from tests.mcp.conftest import START_S, TOKEN, StartRoost, wait_for_state

GOOD_SECRET = "mcp-hdr-GOOD-4f1c9e"
BAD_SECRET = "mcp-hdr-BAD-77d0aa"


async def test_an_http_server_with_secret_headers_works_and_its_secrets_stay_hidden(
    start_roost: StartRoost,
    fake_llm: FakeLLM,
    http_server: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = http_server(MCP_TEST_TOKEN=GOOD_SECRET)
    monkeypatch.setenv("WEB_MCP_TOKEN", GOOD_SECRET)
    servers = {
        "web": {"url": url, "headers": {"Authorization": "Bearer ${WEB_MCP_TOKEN}"}},
        "locked": {"url": url, "headers": {"Authorization": f"Bearer {BAD_SECRET}"}},
    }
    app = await start_roost(servers, ["mcp:web", "mcp:locked"])
    status = await wait_for_state(app, "web", "ready")
    assert status["transport"] == "http" and "echo" in status["tools"]
    locked = await wait_for_state(app, "locked", "failed")
    assert locked["last_error"]  # refused (401), and said so

    fake_llm.tool_call("web__echo", {"text": "over http"})
    fake_llm.tool_call("locked__echo", {"text": "never"})
    fake_llm.reply("done")
    assert (await app.ask("assistant", "echo", "s1")).text == "done"
    bodies = [json.dumps(request.body) for request in fake_llm.requests]
    assert "echo: over http" in bodies[1]
    # The locked server never came up, so it offers no tools: the model is told so.
    assert "unknown tool 'locked__echo'" in bodies[2]

    outputs = [*bodies, json.dumps(app.health()), caplog.text]
    outputs.append(await _healthz(app))
    outputs.append(await _roost_mcp_list(app))
    outputs.append(await asyncio.to_thread(_store_bytes, tmp_path / "home"))
    for output in outputs:
        assert GOOD_SECRET not in output and BAD_SECRET not in output


async def _healthz(app: App) -> str:
    gateway = app.feature(GatewayService)
    async with httpx.AsyncClient(base_url=gateway.http_url) as client:
        response = await client.get("/healthz")
    return response.text


async def _roost_mcp_list(app: App) -> str:
    """`roost mcp list --json`, which asks the running gateway (``mcp.list``)."""
    assert app.settings.config_path is not None
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "roost",
        "--config",
        str(app.settings.config_path),
        "mcp",
        "list",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), START_S)
    assert process.returncode == 0, err.decode()
    listed = json.loads(out)["servers"]
    assert listed["web"]["state"] == "ready" and "echo" in listed["web"]["tools"]
    assert listed["locked"]["state"] in {"failed", "starting"}  # refused, and retried
    assert TOKEN not in out.decode()
    return out.decode() + err.decode()


def _store_bytes(home: Path) -> str:
    return "".join(
        path.read_bytes().decode("latin-1") for path in home.rglob("*") if path.is_file()
    )
