"""`mcp_servers:` and the agents' `mcp:` tool entries, as the configuration check sees them;
`roost mcp list` and `roost doctor` without a running Roost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from roost.config.errors import ConfigError
from roost.config.loader import load_settings
from tests.conftest import ConfigWriter
from tests.mcp.conftest import SERVER

PROVIDER = """\
providers:
  p: {type: openai, base_url: "http://127.0.0.1:9/v1", api_key: x}
"""


def load(write_config: ConfigWriter, text: str) -> ConfigError | None:
    try:
        load_settings(write_config(PROVIDER + textwrap.dedent(text)), env=os.environ)
    except ConfigError as exc:
        return exc
    return None


def test_mcp_entries_name_declared_servers(write_config: ConfigWriter) -> None:
    good = """\
        mcp_servers:
          github: {url: "https://example.invalid/mcp"}
          files: {command: files-server, args: [--root, /tmp], cwd: sub}
        agents:
          a: {model: p/m, tools: [read_file, "mcp:github", "mcp:files/read_*"]}
        """
    assert load(write_config, good) is None
    bad = """\
        mcp_servers:
          files: {command: files-server}
        agents:
          a: {model: p/m, tools: ["mcp:gihtub", "mcp:files/"]}
        """
    error = load(write_config, bad)
    assert error is not None
    text = str(error)
    assert "agents.a.tools[0]: unknown MCP server 'gihtub' (known: files)" in text
    assert "agents.a.tools[1]: 'mcp:files/': name tools after the '/'" in text


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("{command: x, url: 'http://h/mcp'}", "set either command (a stdio server) or url"),
        ("{}", "set either command (a stdio server) or url"),
        ("{url: 'ftp://h'}", "should be an http:// or https:// URL"),
        ("{url: 'http://h/mcp', args: [x]}", "args, env and cwd are for a command"),
        ("{command: x, headers: {A: b}}", "headers are for an url server"),
        ("{command: x, tools: {t: maybe}}", "mcp_servers.s.tools.t"),
        ("{command: x, timeout_s: 0}", "mcp_servers.s.timeout_s"),
        ("{command: x, colour: red}", "mcp_servers.s.colour"),
    ],
)
def test_bad_servers_are_refused_with_the_key_named(
    write_config: ConfigWriter, server: str, message: str
) -> None:
    error = load(write_config, f"mcp_servers:\n  s: {server}\n")
    assert error is not None and message in str(error)


def test_server_names_use_the_tool_name_characters(write_config: ConfigWriter) -> None:
    error = load(write_config, "mcp_servers:\n  'my server': {command: x}\n")
    assert error is not None and "mcp_servers.my server: a server name is 1 to 32" in str(error)


def test_a_header_secret_is_not_echoed_in_a_config_error(
    write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HDR_TOKEN", "hdr-secret-91ac")
    text = """\
        mcp_servers:
          web: {url: "http://h/mcp", headers: {Authorization: "Bearer ${HDR_TOKEN}"}, timeout_s: -1}
        """
    error = load(write_config, text)
    assert error is not None and "timeout_s" in str(error)
    assert "hdr-secret-91ac" not in str(error)
    settings = load_settings(
        write_config(PROVIDER + textwrap.dedent(text).replace("timeout_s: -1", "timeout_s: 5")),
        env=os.environ,
    )
    assert "hdr-secret-91ac" not in repr(settings)


def roost(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roost", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_mcp_list_without_roost_running_shows_the_configured_servers(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(
        PROVIDER
        + f"home: {tmp_path / 'home'}\n"
        + "mcp_servers:\n  files: {command: files-server}\n  web: {url: 'http://h/mcp'}\n"
    )
    done = roost(config, "mcp", "list", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "servers": {
            "files": {"state": "not running", "transport": "stdio", "tools": []},
            "web": {"state": "not running", "transport": "http", "tools": []},
        }
    }
    table = roost(config, "mcp", "list")
    assert "files" in table.stdout and "not running" in table.stdout


def test_roost_help_mcp_prints_the_bundled_page(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "roost", "help", "mcp"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (Path(__file__).parents[2] / "docs" / "mcp.md").read_text("utf-8")


def test_doctor_reports_a_server_that_fails_to_start(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    good = {"command": sys.executable, "args": [str(SERVER), "stdio"]}
    config = write_config(
        PROVIDER
        + f"home: {tmp_path / 'home'}\n"
        + "mcp_servers:\n"
        + f"  good: {json.dumps(good)}\n"
        + "  broken: {command: /nonexistent/mcp-server}\n"
    )
    done = roost(config, "doctor")
    assert "✓ MCP server good starts: 7 tools" in done.stdout
    assert "✗ MCP server broken fails to start: command not found: /nonexistent/mcp-server" in (
        done.stdout
    )
    assert done.returncode == 1
