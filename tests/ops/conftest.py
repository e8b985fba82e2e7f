"""Fixtures for the operator commands: a config on the fake LLM, and `roost run` as a
real process (``tests.support.roost_run``)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.support.roost_run import ROOST, RoostRun, running_roost


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
def running(config: Path, home: Path) -> Iterator[RoostRun]:
    """`roost run` up (its gateway.json written), stopped with SIGTERM afterwards."""
    with running_roost(home) as run:
        yield run
