"""Code only some configurations use is imported only by them: a default `roost run`
(gateway on, one agent without a planner) imports neither the OpenAI-compatible API's
handlers nor the planner; the API's come with its first request. A reload that lists a
tool whose feature was not loaded at start names it as needing a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from roost.app import App
from roost.config.loader import load_settings
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM

SERVE = """
import asyncio, sys
from roost.app import App
from roost.builtin_features import served_features
from roost.config.loader import load_settings

async def main() -> None:
    settings = load_settings()
    app = App(settings, served_features(settings))
    await app.start(recover=True)
    assert app.warmed_up is not None
    await app.warmed_up
    print(sorted(app.health()["components"]))
    if "--ask-v1" in sys.argv:
        import httpx
        from roost.gateway.discovery import read_endpoint
        endpoint = read_endpoint(settings.home)
        assert endpoint is not None
        token = (settings.home / "gateway.token").read_text().strip()
        async with httpx.AsyncClient() as client:
            reply = await client.get(
                endpoint.http_url + "/v1/models", headers={"Authorization": "Bearer " + token}
            )
        assert reply.status_code == 200, reply.text
    await app.stop(grace_s=1)

asyncio.run(main())
print("\\n".join(sorted(m for m in sys.modules if m.startswith("roost."))))
"""

ONLY_WHEN_USED = ("roost.openai_api.api", "roost.agents.planner")


def _served_modules(
    write_config: ConfigWriter, fake_llm: FakeLLM, home: Path, *args: str
) -> tuple[str, set[str]]:
    """`roost run`'s App started (warm-up done) and stopped: its health components and
    the roost modules it imported."""
    config = write_config(
        provider_yaml(fake_llm)
        + textwrap.dedent(
            f"""\
            home: {home}
            gateway: {{port: 0}}
            agents:
              assistant: {{model: gpt/gpt-5-mini}}
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-c", SERVE, *args],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    components, *modules = done.stdout.splitlines()
    return components, set(modules)


def test_a_default_run_imports_neither_the_openai_api_handlers_nor_the_planner(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    components, loaded = _served_modules(write_config, fake_llm, tmp_path / "home")
    assert "openai_api" in components  # the feature is there, its routes served
    assert "roost.openai_api.service" in loaded
    assert not loaded & set(ONLY_WHEN_USED)


def test_the_first_request_to_v1_loads_its_handlers(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    _, loaded = _served_modules(write_config, fake_llm, tmp_path / "home", "--ask-v1")
    assert "roost.openai_api.api" in loaded
    assert "roost.agents.planner" not in loaded


def _two_agents(fake_llm: FakeLLM, home: Path, assistant: str, coder: str) -> str:
    return provider_yaml(fake_llm) + textwrap.dedent(
        f"""\
        home: {home}
        agents:
          assistant: {{model: claude/claude-haiku-4-5, tools: [{assistant}]}}
          coder: {{model: gpt/gpt-5-mini, tools: [{coder}]}}
        """
    )


async def test_reload_names_a_tool_whose_feature_was_not_loaded_as_needing_a_restart(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    # The web tools' feature loads only when an agent lists one at start; before this, a
    # reload gave the agent `http_fetch` by name with no tool behind it.
    home = tmp_path / "home"
    path = write_config(_two_agents(fake_llm, home, "read_file", "read_file"))
    app = App(load_settings(path, env=os.environ))
    await app.start()
    try:
        path.write_text(_two_agents(fake_llm, home, "read_file, http_fetch, shell", "list_files"))
        plan = app.reload(load_settings(path, env=os.environ))
    finally:
        await app.stop(grace_s=1)
    assert plan.needs_restart == ["agents.assistant.tools (http_fetch: loaded only at start)"]
    assert plan.applied == ["agents.coder.tools"]
    assert app.agent("assistant").settings.tools == ("read_file",)
    assert app.agent("coder").settings.tools == ("list_files",)


async def test_reload_gives_a_tool_whose_feature_is_loaded(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    path = write_config(_two_agents(fake_llm, home, "read_file", ""))
    app = App(load_settings(path, env=os.environ))
    await app.start()
    try:
        path.write_text(_two_agents(fake_llm, home, "read_file, shell, recall", "list_files"))
        plan = app.reload(load_settings(path, env=os.environ))
    finally:
        await app.stop(grace_s=1)
    assert plan.needs_restart == []
    assert plan.applied == ["agents.assistant.tools", "agents.coder.tools"]
    assert app.agent("assistant").settings.tools == ("read_file", "shell", "recall")
    assert {"shell", "recall"} <= set(app.tools.names())
