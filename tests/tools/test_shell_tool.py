"""The ``shell`` tool: policy, the bwrap sandbox and its detection, secrets."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.config.loader import load_settings
from roost.config.settings import Settings
from roost.providers.base import ToolCall
from roost.tools.registry import ToolContext, ToolOutcome, ToolRegistry
from roost.tools.sandbox import probe_sandbox
from roost.tools.shell import ShellTool
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM

SECRET = "sk-ant-VERY-DISTINCTIVE-SECRET-9731"
needs_bwrap = pytest.mark.skipif(
    not probe_sandbox().usable, reason=f"no usable bwrap here: {probe_sandbox().detail}"
)


def make_settings(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path, shell: str, sandbox: str
) -> Settings:
    path = write_config(
        provider_yaml(fake_llm).replace("api_key: test-key", f"api_key: {SECRET}", 1)
        + textwrap.dedent(
            f"""\
            home: {tmp_path / "home"}
            shell: {{sandbox: {sandbox}}}
            agents:
              ops:
                model: claude/claude-haiku-4-5
                tools: [shell]
                shell: {shell}
            """
        )
    )
    return load_settings(path, env=os.environ)


async def run(settings: Settings, command: str, **extra: object) -> ToolOutcome:
    workspace = settings.agents["ops"].workspace
    workspace.mkdir(parents=True, exist_ok=True)
    registry = ToolRegistry([ShellTool(settings, None).tool()])
    arguments = {"command": command, **extra}
    import json

    call = ToolCall("c1", "shell", json.dumps(arguments))
    return await registry.run(call, ToolContext("ops", "s", workspace), ["shell"])


@pytest.fixture
def listening() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


async def test_deny_refuses_and_allowlist_runs_only_matches(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    denied = make_settings(fake_llm, write_config, tmp_path, "{mode: deny}", "off")
    outcome = await run(denied, "echo hi")
    assert outcome.is_error and "disabled" in outcome.text
    listed = make_settings(
        fake_llm, write_config, tmp_path, '{mode: allowlist, allow: ["echo *"]}', "off"
    )
    ok = await run(listed, "echo hi")
    assert (ok.is_error, ok.text) == (False, "exit code 0\nhi\n")
    attack = await run(listed, "echo hi; touch pwned")
    assert attack.is_error and "metacharacter" in attack.text
    assert not (listed.agents["ops"].workspace / "pwned").exists()


async def test_ask_without_anyone_to_ask_refuses(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    settings = make_settings(fake_llm, write_config, tmp_path, "{mode: ask}", "off")
    outcome = await run(settings, "touch made")
    assert outcome.is_error and "approval" in outcome.text
    assert not (settings.agents["ops"].workspace / "made").exists()


async def test_the_timeout_is_capped_by_the_policy(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    settings = make_settings(
        fake_llm, write_config, tmp_path, "{mode: full, max_timeout_s: 0.3}", "off"
    )
    outcome = await run(settings, "sleep 30", timeout_s=3600)
    assert "killed after 0.3 s (timeout)" in outcome.text


async def test_secrets_are_neither_in_the_env_nor_in_the_output(
    fake_llm: FakeLLM,
    write_config: ConfigWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-ANOTHER-DISTINCTIVE-1234")
    settings = make_settings(fake_llm, write_config, tmp_path, "{mode: full}", "off")
    outcome = await run(settings, f"env; echo {SECRET}; cat {settings.config_path}")
    assert "tok-ANOTHER-DISTINCTIVE" not in outcome.text
    assert SECRET not in outcome.text and "<redacted>" in outcome.text


@needs_bwrap
async def test_sandbox_writes_the_workspace_only_and_hides_secrets(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    settings = make_settings(fake_llm, write_config, tmp_path, "{mode: full}", "required")
    (settings.home / "roost.db").parent.mkdir(parents=True, exist_ok=True)
    (settings.home / "roost.db").write_text("the database")
    outside = tmp_path / "outside.txt"
    inside = await run(settings, "echo made > inside.txt && cat inside.txt")
    assert inside.text == "exit code 0\nmade\n"
    assert (settings.agents["ops"].workspace / "inside.txt").read_text() == "made\n"
    await run(settings, f"echo x > {outside}")  # /tmp is the sandbox's own
    assert not outside.exists()
    for target in ("/usr/pwned", "/root/pwned", f"{Path(__file__).parent}/pwned"):
        refused = await run(settings, f"touch {target}")
        # Read-only, or not there at all when the path is under /tmp (the sandbox's own).
        assert "exit code 1" in refused.text
        assert "Read-only file system" in refused.text or "No such file" in refused.text
        assert not await asyncio.to_thread(os.path.lexists, target)
    for hidden in (settings.home / "roost.db", settings.config_path):
        peek = await run(settings, f"cat {hidden}")
        assert "the database" not in peek.text and "providers" not in peek.text


@needs_bwrap
async def test_sandbox_has_no_network_unless_the_policy_allows_it(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path, listening: int
) -> None:
    python = sandbox_python()
    connect = (
        f"{python} -c \"import socket; socket.create_connection(('127.0.0.1', "
        f"{listening}), 2); print('connected')\""
    )
    closed = make_settings(fake_llm, write_config, tmp_path, "{mode: full}", "required")
    assert "connected" not in (await run(closed, connect)).text
    opened = make_settings(
        fake_llm, write_config, tmp_path, "{mode: full, network: true}", "required"
    )
    assert "connected" in (await run(opened, connect)).text


def sandbox_python() -> str:
    """An interpreter the sandbox can see: /tmp is its own, so not one under /tmp (a CI
    clone's venv)."""
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        if not candidate.startswith("/tmp/") and os.path.exists(candidate):
            return candidate
    pytest.skip("no Python interpreter outside /tmp for the sandbox to run")


def fake_bwrap(directory: Path) -> None:
    """A bwrap that fails like one in a container without user namespaces."""
    directory.mkdir()
    script = directory / "bwrap"
    script.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


async def test_an_unusable_bwrap_is_detected(
    fake_llm: FakeLLM,
    write_config: ConfigWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_bwrap(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    probe = probe_sandbox()
    assert not probe.usable and "No permissions to creating new namespace" in probe.detail
    auto = make_settings(fake_llm, write_config, tmp_path, "{mode: full}", "auto")
    ran = await run(auto, "echo unsandboxed")
    assert ran.text == "exit code 0\nunsandboxed\n"
    assert "WITHOUT a sandbox" in caplog.text
    required = make_settings(fake_llm, write_config, tmp_path, "{mode: full}", "required")
    refused = await run(required, "touch made")
    assert refused.is_error and "shell.sandbox: required" in refused.text
    assert not (required.agents["ops"].workspace / "made").exists()


async def test_a_missing_bwrap_is_detected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("bwrap") is None
    assert probe_sandbox().detail == "bwrap (bubblewrap) is not installed"
