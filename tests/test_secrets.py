"""No secret leaks: the whole stack runs with distinctive secrets, then every output, log
file and database row is searched for them.

`roost run` runs as a child process (gateway, Telegram on the fake Bot API, scheduler)
with an Anthropic key from the environment, an OpenAI key in the config (through a
``${VAR}``), a bot token and a gateway token. It serves a Telegram message whose turn
uses tools (a file and a streamable-HTTP MCP server's, called with a secret header),
a job run, two failing model calls whose error bodies echo the key (as some APIs do),
an MCP server that refuses its header and quotes the token in its 401, the CLI's --json
outputs (`roost mcp list --json` among them) and `roost doctor` (which starts the MCP
servers too), /healthz and /metrics.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roost.gateway.discovery import read_endpoint
from tests.fakes.llm_server import FakeLLM
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram.server import running_fake_telegram

OWNER = 4242
WAIT_S = 60.0
SECRETS = {
    "anthropic api key (from ANTHROPIC_API_KEY)": "sk-ant-SECRET-anthropic-4c1d9e7f2a6b",
    "openai api key (in the config, through ${VAR})": "sk-SECRET-openai-8b2f6a0c3d5e",
    "telegram bot token": "987654321:SECRETbotTOKEN-AAbbCCddEEff",
    "gateway token": "SECRET-gateway-token-0123456789abcdef0123",
    "mcp server header (through ${VAR})": "mcp-hdr-SECRET-web-6a1f0c9d3e",
    "mcp header a server refuses (and quotes)": "mcp-hdr-SECRET-locked-2b7e5d",
}
REFUSED_MCP_HEADER = "mcp header a server refuses (and quotes)"
MCP_SERVER = Path(__file__).parent / "mcp" / "mcp_test_server.py"


@pytest.fixture
def mcp_url(tmp_path: Path) -> Iterator[str]:
    """The MCP test server over streamable HTTP, wanting the web header's token, and
    quoting a refused token back in its 401 (as some APIs do)."""
    env = dict(
        os.environ,
        MCP_TEST_TOKEN=SECRETS["mcp server header (through ${VAR})"],
        MCP_TEST_ECHO_REFUSED="1",
    )
    with (tmp_path / "mcp-server.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(MCP_SERVER), "http"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with running_fake_telegram(SECRETS["telegram bot token"]) as fake:
        yield fake


@pytest.fixture
def home(tmp_path: Path, fake_llm: FakeLLM, fake_telegram: FakeTelegram, mcp_url: str) -> Path:
    config = tmp_path / "roost.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            home: {tmp_path / "home"}
            providers:
              claude: {{type: anthropic, base_url: "{fake_llm.url}", max_retries: 0}}
              gpt:
                type: openai
                base_url: "{fake_llm.openai_url}"
                api_key: "${{TEST_OPENAI_KEY}}"
                max_retries: 0
            gateway: {{port: 0, token: "{SECRETS["gateway token"]}"}}
            telegram:
              token: "{SECRETS["telegram bot token"]}"
              api_base_url: "{fake_telegram.url}"
              allowed_users: [{OWNER}]
              default_agent: assistant
            agents:
              assistant:
                model: claude/claude-haiku-4-5
                tools: [read_file, write_file, remember, recall, notify_owner, "mcp:web",
                        "mcp:locked"]
              coder: {{model: gpt/gpt-5-mini}}
            mcp_servers:
              web:
                url: "{mcp_url}"
                headers: {{Authorization: "Bearer ${{TEST_MCP_TOKEN}}"}}
              locked:
                url: "{mcp_url}"
                headers: {{Authorization: "Bearer {SECRETS[REFUSED_MCP_HEADER]}"}}
            schedules:
              nightly: {{every: 24h, agent: assistant, prompt: "the nightly summary"}}
            """
        )
    )
    return tmp_path / "home"


def _env() -> dict[str, str]:
    return dict(
        os.environ,
        ANTHROPIC_API_KEY=SECRETS["anthropic api key (from ANTHROPIC_API_KEY)"],
        TEST_OPENAI_KEY=SECRETS["openai api key (in the config, through ${VAR})"],
        TEST_MCP_TOKEN=SECRETS["mcp server header (through ${VAR})"],
    )


def roost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roost", *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=WAIT_S,
    )


def _get(url: str, token: str | None = None) -> str:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=WAIT_S) as response:
        body: bytes = response.read()
    return body.decode()


def _database_rows(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        found = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = [row[0] for row in found]
        return [
            repr(row)
            for table in tables
            if table and not table.startswith("sqlite_")
            for row in connection.execute(f'SELECT * FROM "{table}"')
        ]


def test_no_secret_appears_in_any_output_log_or_row(
    home: Path, fake_llm: FakeLLM, fake_telegram: FakeTelegram
) -> None:
    outputs: dict[str, str] = {}
    workspace = home / "agents" / "assistant" / "workspace"
    workspace.mkdir(parents=True)
    (workspace / "notes.md").write_text("buy milk")
    child = subprocess.Popen(
        [sys.executable, "-m", "roost", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while (endpoint := read_endpoint(home)) is None or endpoint.pid != child.pid:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "roost run did not start"
            time.sleep(0.05)
        servers = _mcp_servers_when_settled(endpoint.http_url)
        assert servers["web"]["state"] == "ready", servers
        assert servers["locked"]["state"] == "failed", servers
        assert servers["locked"]["last_error"]  # refused (its 401 quotes the token)
        # A Telegram message whose turn calls a file tool and the MCP server's.
        fake_llm.tool_call("read_file", {"path": "notes.md"})
        fake_llm.tool_call("web__echo", {"text": "over http"})
        fake_llm.reply("Your notes say: buy milk")
        fake_telegram.send_text(OWNER, "what do my notes say?")
        fake_telegram.wait_until(lambda: len(fake_telegram.sent) >= 1, WAIT_S)
        # Failing model calls whose error bodies echo the key (config, then environment).
        fake_llm.fail(401, f"invalid x-api-key {SECRETS[next(iter(SECRETS))]}")
        outputs["ask --json (anthropic error)"] = _run_output("ask", "assistant", "hi", "--json")
        fake_llm.fail(401, f"Incorrect API key provided: {list(SECRETS.values())[1]}")
        outputs["ask --json (openai error)"] = _run_output("ask", "coder", "hi", "--json")
        assert "401" in outputs["ask --json (anthropic error)"]
        assert "401" in outputs["ask --json (openai error)"]
        fake_llm.reply("Nightly: all quiet.")
        outputs["jobs run --json"] = _run_output("jobs", "run", "nightly", "--json")
        assert "all quiet" in outputs["jobs run --json"]
        for command in (
            ("agents", "--json"),
            ("cost", "--json"),
            ("sessions", "--json"),
            ("jobs", "list", "--json"),
            ("jobs", "runs", "nightly", "--json"),
            ("mcp", "list", "--json"),
            ("history", "assistant", "--json"),
            ("doctor",),
        ):
            outputs[" ".join(command)] = _run_output(*command)
        outputs["/healthz"] = _get(f"{endpoint.http_url}/healthz")
        outputs["/metrics"] = _get(f"{endpoint.http_url}/metrics", SECRETS["gateway token"])
        assert "roost" in outputs["/metrics"]
    finally:
        child.send_signal(signal.SIGTERM)
        stdout, stderr = child.communicate(timeout=WAIT_S)
        outputs["roost run stdout"], outputs["roost run stderr"] = stdout, stderr
    outputs["telegram messages"] = json.dumps([m.visible_text for m in fake_telegram.sent])
    assert "buy milk" in outputs["telegram messages"]
    assert '"state": "ready"' in outputs["mcp list --json"]
    for path in sorted(home.rglob("*")):
        if path.is_file():
            outputs[f"file {path.relative_to(home)}"] = path.read_bytes().decode("latin-1")
    rows = _database_rows(home / "roost.db")
    outputs["database rows"] = "\n".join(rows)
    assert any("the nightly summary" in row for row in rows)  # the rows were all read
    assert any("echo: over http" in row for row in rows)  # the MCP call was made and stored
    leaks = [
        f"{secret_name} in {where}"
        for where, text in outputs.items()
        for secret_name, secret in SECRETS.items()
        if secret in text
    ]
    assert leaks == [], "\n".join(leaks)


def _mcp_servers_when_settled(http_url: str) -> dict[str, Any]:
    """The MCP servers' states from /healthz, once each has tried to start (they start
    after `roost run` is ready, so as not to delay it)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        health = json.loads(_get(f"{http_url}/healthz"))
        servers: dict[str, Any] = health["components"]["mcp"]["servers"]
        if all(server["state"] not in {"stopped", "starting"} for server in servers.values()):
            return servers
        assert time.monotonic() < deadline, f"MCP servers still starting: {servers}"
        time.sleep(0.05)


def _run_output(*args: str) -> str:
    result = roost(*args)
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
