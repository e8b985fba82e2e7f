"""Fixtures for the operator commands: a config on the fake LLM, and `roost run` as a
real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM

ROOST = [sys.executable, "-m", "roost"]


def roost(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ROOST, *args], capture_output=True, text=True, env=env or dict(os.environ), timeout=60
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def config(fake_llm: FakeLLM, write_config: ConfigWriter, home: Path) -> Path:
    return write_config(
        provider_yaml(fake_llm)
        + f"""home: {home}
gateway: {{port: 0}}
agents:
  assistant: {{model: claude/claude-haiku-4-5}}
  coder: {{model: gpt/gpt-5-mini}}
"""
    )


def wait_for(condition: object, what: str, timeout_s: float = 30.0) -> None:
    """Poll ``condition()`` until true, or fail after ``timeout_s`` (a deadline, not a sleep
    standing in for an event: the events are in another process)."""
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def running(config: Path, home: Path) -> Iterator[subprocess.Popen[str]]:
    """`roost run` up (its gateway.json written), stopped with SIGTERM afterwards."""
    process = subprocess.Popen(
        [*ROOST, "run"], stderr=subprocess.DEVNULL, text=True, env=dict(os.environ)
    )
    try:
        wait_for(lambda: _endpoint_of(home, process.pid), "roost run to listen")
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _endpoint_of(home: Path, pid: int) -> bool:
    try:
        return json.loads((home / "gateway.json").read_text())["pid"] == pid
    except (OSError, ValueError, KeyError):
        return False
