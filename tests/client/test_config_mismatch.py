"""A running `roost run` that loaded another config than the command talking to it (a file
edited since it started, another ./roost.yaml here) is named, with the fix (#10.1).
Real processes: `python -m roost run` on port 0 and the CLI beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from roost.config.settings import NO_PROVIDER_REPLY
from roost.gateway.discovery import read_endpoint
from tests.conftest import provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.support.roost_run import running_roost

RESTART = "restart it (Ctrl+C, then `roost run`) to use the new config"


def roost(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roost", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        env=dict(os.environ),
        timeout=60,
    )


def base_config(home: Path) -> str:
    return f"home: {home}\ngateway: {{port: 0}}\n"


def with_provider(fake_llm: FakeLLM, home: Path) -> str:
    agents = "agents:\n  assistant: {model: claude/claude-haiku-4-5}\n"
    return base_config(home) + provider_yaml(fake_llm) + agents


def test_ask_says_the_running_process_loaded_the_file_before_it_changed(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    config = tmp_path / "roost.yaml"
    config.write_text(base_config(home), encoding="utf-8")  # no provider yet
    with running_roost(home):
        endpoint = read_endpoint(home)
        assert endpoint is not None and endpoint.config_path == str(config.resolve())
        same = roost("ask", "assistant", "hi", cwd=tmp_path)
        assert "roost run" not in same.stderr.replace(NO_PROVIDER_REPLY, "")
        config.write_text(with_provider(fake_llm, home), encoding="utf-8")
        asked = roost("ask", "assistant", "hello", cwd=tmp_path)
        note = (
            f"roost: the running roost run (pid {endpoint.pid}) loaded {config.resolve()}, "
            f"which changed since it started: {RESTART}"
        )
        assert note in asked.stderr.splitlines(), asked.stderr
        assert asked.stdout == ""
        chatted = roost("chat", "assistant", cwd=tmp_path, stdin="hello\n")
        assert note in chatted.stderr.splitlines(), chatted.stderr
        agents = roost("agents", cwd=tmp_path)
        assert agents.returncode == 0 and note in agents.stderr.splitlines(), agents.stderr
    assert fake_llm.requests == []


def test_ask_from_a_directory_with_another_config_names_both_files(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    config = tmp_path / "roost.yaml"
    config.write_text(with_provider(fake_llm, home), encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = elsewhere / "roost.yaml"
    other.write_text(with_provider(fake_llm, home), encoding="utf-8")
    with running_roost(home):
        endpoint = read_endpoint(home)
        assert endpoint is not None
        here = roost("ask", "assistant", "from the same directory", cwd=tmp_path)
        assert here.returncode == 0 and here.stderr == "", here.stderr
        agents = roost("agents", cwd=tmp_path)
        assert (
            f"roost: the running roost run (pid {endpoint.pid}) uses this config: "
            f"{config.resolve()}"
        ) in agents.stderr.splitlines()
        there = roost("ask", "assistant", "from elsewhere", cwd=elsewhere)
        assert there.returncode == 0, there.stderr
        assert (
            f"roost: the running roost run (pid {endpoint.pid}) loaded {config.resolve()}; "
            f"this command loaded {other.resolve()}: {RESTART}"
        ) in there.stderr.splitlines()


def test_ask_says_roost_run_started_without_the_provider_variable_this_shell_sets(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (tmp_path / "roost.yaml").write_text(base_config(home), encoding="utf-8")
    with running_roost(home):  # started with no provider variable
        endpoint = read_endpoint(home)
        assert endpoint is not None
        plain = roost("ask", "assistant", "hi", cwd=tmp_path)
        assert plain.returncode == 1 and plain.stderr == f"{NO_PROVIDER_REPLY}\n"
        env = {**os.environ, "ROOST_LOCAL_BASE_URL": fake_llm.openai_url}
        asked = subprocess.run(
            [sys.executable, "-m", "roost", "ask", "assistant", "hi"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
        )
        assert asked.returncode == 1
        assert asked.stderr.splitlines() == [
            NO_PROVIDER_REPLY,
            f"roost: the running roost run (pid {endpoint.pid}) started without "
            "ROOST_LOCAL_BASE_URL, which this shell sets: restart it (Ctrl+C, then "
            "`roost run`) where it is set",
        ]
