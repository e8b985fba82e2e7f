"""`roost doctor` probes each provider's address and says whether `roost run` is up and
which config it loaded (#10.2), run as a user runs it: `python -m roost doctor`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from roost.gateway.discovery import read_endpoint
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.support.roost_run import running_roost

SECRET = "sk-doctor-secret-key-1234"


def doctor(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roost", "--config", str(config), "doctor"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )


def closed_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_provider_where_nothing_listens_fails_with_a_clear_line(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    port = closed_port()
    config = write_config(
        f"""home: {tmp_path / "home"}
providers:
  claude: {{type: anthropic, base_url: "{fake_llm.url}", api_key: test-key}}
  local: {{type: openai, base_url: "http://127.0.0.1:{port}/v1", api_key: {SECRET}}}
agents:
  assistant: {{model: local/llama3.2}}
"""
    )
    result = doctor(config)
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    assert (
        f"✗ provider local (openai, http://127.0.0.1:{port}/v1): has a key, but nothing "
        f"answers at 127.0.0.1:{port} (connection refused)"
    ) in lines, result.stdout
    fake_port = fake_llm.url.rsplit(":", 1)[1].split("/")[0]
    assert (
        f"✓ provider claude (anthropic, {fake_llm.url}): has a key; 127.0.0.1:{fake_port} answers"
    ) in lines, result.stdout
    assert SECRET not in result.stdout + result.stderr
    assert fake_llm.requests == []  # a TCP connection only: nothing sent, no tokens spent


def test_doctor_says_whether_roost_run_is_up_and_which_config_it_loaded(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    config = write_config(
        provider_yaml(fake_llm)
        + f"""home: {home}
gateway: {{port: 0}}
agents:
  assistant: {{model: claude/claude-haiku-4-5}}
"""
    )
    before = doctor(config)
    assert before.returncode == 0, before.stdout
    assert f"! roost run: not running for {home} (start it with `roost run`)" in before.stdout
    with running_roost(home):
        endpoint = read_endpoint(home)
        assert endpoint is not None
        during = doctor(config)
        assert during.returncode == 0, during.stdout
        lines = during.stdout.splitlines()
        assert f"✓ roost run (pid {endpoint.pid}): up, {endpoint.http_url}/healthz answered" in (
            lines
        ), during.stdout
        assert (
            f"✓ the running roost run (pid {endpoint.pid}) uses this config: {config.resolve()}"
        ) in lines
        config.write_text(config.read_text() + "# edited\n")
        edited = doctor(config)
        assert (
            f"! the running roost run (pid {endpoint.pid}) loaded {config.resolve()}, which "
            "changed since it started: restart it (Ctrl+C, then `roost run`) to use the new config"
        ) in edited.stdout.splitlines(), edited.stdout


def test_doctor_finds_a_roost_run_without_a_gateway(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    config = write_config(
        provider_yaml(fake_llm)
        + f"home: {home}\ngateway: {{enabled: false}}\n"
        + "agents:\n  assistant: {model: claude/claude-haiku-4-5}\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "roost", "--config", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 30
        while not _holds_lock(home, process.pid):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "roost run did not take its lock"
            time.sleep(0.05)
        result = doctor(config)
        assert (
            f"! roost run (pid {process.pid}) runs without a gateway (gateway.enabled: false, "
            "or still starting): which config it loaded cannot be checked"
        ) in result.stdout.splitlines(), result.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _holds_lock(home: Path, pid: int) -> bool:
    try:
        return (home / "roost.pid").read_text().strip() == str(pid)
    except OSError:
        return False
