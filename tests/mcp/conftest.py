"""A running App (gateway on port 0, the MCP feature) with MCP servers written for the
tests (``mcp_test_server.py``), and the fake LLM."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from roost.app import App
from roost.builtin_features import served_features
from roost.config.loader import load_settings
from roost.mcp.feature import McpFeature
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM

SERVER = Path(__file__).with_name("mcp_test_server.py")
TOKEN = "test-token"
START_S = 120.0
"""Upper bound for a server to start: a Python MCP server takes seconds to import on a
loaded machine; a healthy run waits a fraction of this."""


def stdio_server(**extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(SERVER), "stdio"], **extra}


StartRoost = Callable[..., Awaitable[App]]


@pytest.fixture
async def start_roost(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> AsyncIterator[StartRoost]:
    """Start `roost run`'s features (gateway on port 0, scheduler, MCP) for a config of
    ``mcp_servers`` and the ``tools`` of the agent ``assistant``."""
    apps: list[App] = []

    async def start(servers: dict[str, Any], tools: list[str], **agent: Any) -> App:
        config = {
            "home": str(tmp_path / "home"),
            "gateway": {"port": 0, "token": TOKEN},
            "mcp_servers": servers,
            "agents": {"assistant": {"model": "claude/claude-haiku-4-5", "tools": tools, **agent}},
        }
        path = write_config(provider_yaml(fake_llm) + yaml.safe_dump(config))
        settings = load_settings(path, env=os.environ)
        app = App(settings, served_features(settings))
        apps.append(app)
        await app.start(recover=True)
        return app

    yield start
    for app in apps:
        await app.stop(grace_s=1)


def servers_of(app: App) -> dict[str, dict[str, Any]]:
    return app.feature(McpFeature).list_servers()


async def wait_for_state(
    app: App, server: str, *states: str, within: float = START_S
) -> dict[str, Any]:
    """Poll the server's status until it is in one of ``states`` (or fail at the deadline)."""
    deadline = time.monotonic() + within
    while True:
        status = servers_of(app)[server]
        if status["state"] in states:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"{server} stayed {status} (waited for {states})")
        await asyncio.sleep(0.05)


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start the test server over streamable HTTP (port 0) in a subprocess; its URL."""
    processes: list[subprocess.Popen[str]] = []

    def start(**env: str) -> str:
        process = subprocess.Popen(
            [sys.executable, str(SERVER), "http"],
            stdout=subprocess.PIPE,
            stderr=(tmp_path / "http-server.log").open("a"),
            text=True,
            env={**os.environ, **env},
        )
        processes.append(process)
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        return url

    yield start
    for process in processes:
        process.kill()
        process.wait()
