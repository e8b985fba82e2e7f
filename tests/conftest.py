"""Shared fixtures: an isolated environment, the fake LLM server, configs and a running App."""

from __future__ import annotations

import os
import signal
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from roost.app import App
from roost.config.loader import load_settings
from roost.config.settings import Settings
from tests.fakes.llm_server import FakeLLM, running_fake_llm
from tests.fakes.telegram import FakeTelegram, running_fake_telegram
from tests.support.roost_run import developer_setting


def pytest_configure(config: pytest.Config) -> None:
    """Children start with Ctrl+C working, as from a terminal, however pytest was started.

    A job started in the background by a non-interactive shell (``make test &``, a
    script, a CI runner) inherits SIGINT ignored, and so does every process it starts:
    Python then never raises KeyboardInterrupt, and the tests that interrupt a `roost`
    child with SIGINT wait in vain. Catching SIGINT here (Python's own handler) makes
    children start with the default disposition, since exec resets caught signals.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # Import the model SDKs once, before any test: the first turn of a process imports
    # its SDK (seconds on a busy machine), and that belongs to no test's deadline.
    import anthropic  # noqa: F401
    import openai  # noqa: F401


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's keys, config or data directory."""
    for name in [name for name in os.environ if developer_setting(name)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLM]:
    with running_fake_llm() as server:
        yield server


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLM) -> Iterator[FakeLLM]:
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.reset()


@pytest.fixture(scope="session")
def fake_telegram_server() -> Iterator[FakeTelegram]:
    """The fake Bot API, started once (on port 0) for every test that talks to Telegram."""
    with running_fake_telegram() as server:
        yield server


@pytest.fixture
def fake(fake_telegram_server: FakeTelegram) -> Iterator[FakeTelegram]:
    """The fake Bot API, emptied before and after the test."""
    fake_telegram_server.reset()
    yield fake_telegram_server
    fake_telegram_server.reset()


def provider_yaml(fake: FakeLLM) -> str:
    """Two providers on the fake server: claude (Anthropic API) and gpt (OpenAI API)."""
    return textwrap.dedent(
        f"""\
        providers:
          claude: {{type: anthropic, base_url: "{fake.url}", api_key: test-key, max_retries: 2}}
          gpt: {{type: openai, base_url: "{fake.openai_url}", api_key: test-key, max_retries: 2}}
        """
    )


ConfigWriter = Callable[[str], Path]


@pytest.fixture
def write_config(tmp_path: Path) -> ConfigWriter:
    """Write a roost.yaml (dedented) into a fresh directory and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "roost.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def settings(fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path) -> Settings:
    """Two agents on the fake LLM: assistant (Anthropic API) and coder (OpenAI API)."""
    path = write_config(
        provider_yaml(fake_llm)
        + textwrap.dedent(
            f"""\
            home: {tmp_path / "home"}
            agents:
              assistant:
                model: claude/claude-haiku-4-5
                system: You are a test assistant.
              coder:
                model: gpt/gpt-5-mini
                tools: [read_file, write_file, list_files]
                max_tool_rounds: 3
            """
        )
    )
    return load_settings(path, env=os.environ)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    application = App(settings)
    await application.start()
    yield application
    await application.stop(grace_s=1)
