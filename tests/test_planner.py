"""The plan tool: the routine model asks the planner model, and the ledger says which was which."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.app import App
from roost.config.errors import ConfigError
from roost.config.loader import load_settings
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM, FakeUsage


@pytest.fixture
async def planning_app(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> AsyncIterator[App]:
    path = write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
agents:
  assistant: {{model: claude/claude-haiku-4-5, planner_model: gpt/gpt-5}}
  plain: {{model: claude/claude-haiku-4-5}}
"""
    )
    app = App(load_settings(path, env=os.environ))
    await app.start()
    yield app
    await app.stop(grace_s=1)


async def test_the_plan_tool_asks_the_planner_model_and_records_its_role(
    planning_app: App, fake_llm: FakeLLM
) -> None:
    fake_llm.tool_call("plan", {"question": "How to migrate?", "context": "db is 2 GB"})
    fake_llm.reply("1. back up 2. migrate", usage=FakeUsage(50, 20))  # the planner
    fake_llm.reply("Done, following the plan.")
    result = await planning_app.ask("assistant", "migrate the db", "p")
    assert result.ok and result.text == "Done, following the plan."
    routine, planner, final = fake_llm.requests
    assert routine.api == final.api == "anthropic" and planner.api == "openai"
    assert routine.body["model"] == "claude-haiku-4-5" and planner.body["model"] == "gpt-5"
    assert "plan" in [tool["name"] for tool in routine.body["tools"]]
    assert "tools" not in planner.body  # one plain call: no tools
    planner_text = json.dumps(planner.body["messages"])
    assert "How to migrate?" in planner_text and "db is 2 GB" in planner_text
    assert "1. back up 2. migrate" in json.dumps(final.body["messages"])  # the tool's result
    roles = await planning_app.ledger.totals_by("role")
    assert roles["planner"].calls == 1 and roles["routine"].calls == 2
    assert roles["planner"].input_tokens == 50
    models = await planning_app.ledger.totals_by("model")
    assert models["gpt/gpt-5"].calls == 1
    assert result.cost_usd == pytest.approx(sum(t.cost_usd for t in roles.values()))


async def test_an_agent_without_a_planner_model_has_no_plan_tool(
    planning_app: App, fake_llm: FakeLLM
) -> None:
    fake_llm.tool_call("plan", {"question": "?"})
    fake_llm.reply("ok")
    result = await planning_app.ask("plain", "hi", "p")
    assert result.ok
    first, second = fake_llm.requests
    assert "plan" not in [tool["name"] for tool in first.body.get("tools", [])]
    assert "unknown tool 'plan'" in json.dumps(second.body["messages"])
    assert list(await planning_app.ledger.totals_by("role")) == ["routine"]


async def test_bad_plan_arguments_are_an_error_for_the_model_not_a_call(
    planning_app: App, fake_llm: FakeLLM
) -> None:
    fake_llm.tool_call("plan", {"question": ""})
    fake_llm.reply("gave up")
    result = await planning_app.ask("assistant", "hi", "p")
    assert result.ok and len(fake_llm.requests) == 2
    assert "invalid arguments for plan" in json.dumps(fake_llm.requests[1].body["messages"])


def test_a_planner_model_on_an_unknown_provider_is_refused(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
agents:
  assistant: {{model: claude/claude-haiku-4-5, planner_model: nope/big}}
"""
    )
    with pytest.raises(ConfigError) as refused:
        load_settings(path, env=os.environ)
    assert "agents.assistant.planner_model: unknown provider 'nope'" in str(refused.value)


def test_agents_verbose_shows_the_fixed_bytes_of_every_request(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from roost.agents.planner import PLAN_SPEC

    system = "é" * 100  # 200 bytes in UTF-8
    write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
agents:
  planning:
    {{model: claude/claude-haiku-4-5, planner_model: gpt/gpt-5, tools: [], system: {system}}}
  bare: {{model: claude/claude-haiku-4-5, tools: [], system: {system}}}
  filing: {{model: claude/claude-haiku-4-5, tools: [read_file], system: {system}}}
"""
    )
    roost = [sys.executable, "-m", "roost", "agents", "--verbose"]
    shown = subprocess.run([*roost, "--json"], capture_output=True, text=True, check=True)
    rows = {row["name"]: row for row in json.loads(shown.stdout)["agents"]}
    plan = json.dumps([PLAN_SPEC.name, PLAN_SPEC.description, PLAN_SPEC.input_schema])
    assert rows["bare"]["fixed_request_bytes"] == 200
    assert rows["planning"]["fixed_request_bytes"] == 200 + len(plan.encode())
    assert rows["filing"]["fixed_request_bytes"] > 200
    assert rows["planning"]["planner_model"] == "gpt/gpt-5"
    table = subprocess.run(roost, capture_output=True, text=True, check=True).stdout
    assert "fixed bytes" in table


async def test_a_turn_asked_for_the_planner_runs_on_it_with_the_planner_role(
    planning_app: App, fake_llm: FakeLLM
) -> None:
    result = await planning_app.ask("assistant", "think hard", "p", planner=True)
    assert result.ok and result.text == "echo: think hard"
    request = fake_llm.last_request
    assert request.api == "openai" and request.body["model"] == "gpt-5"
    assert "plan" not in [t["function"]["name"] for t in request.body.get("tools", [])]
    assert list(await planning_app.ledger.totals_by("role")) == ["planner"]


def test_ask_planner_on_an_agent_without_one_fails_clearly(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    import subprocess
    import sys

    write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
agents:
  plain: {{model: claude/claude-haiku-4-5}}
"""
    )
    refused = subprocess.run(
        [sys.executable, "-m", "roost", "ask", "plain", "hi", "--planner"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "agent 'plain' has no planner model" in refused.stderr
    assert not fake_llm.requests


@pytest.fixture
async def planning_gateway(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> AsyncIterator[App]:
    """The planning agents in a running App with its gateway (as `roost run` serves them)."""
    from roost.builtin_features import gateway_feature

    path = write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
gateway: {{port: 0, token: planner-test-token}}
agents:
  assistant: {{model: claude/claude-haiku-4-5, planner_model: gpt/gpt-5}}
  plain: {{model: claude/claude-haiku-4-5}}
"""
    )
    app = App(load_settings(path, env=os.environ), [gateway_feature])
    await app.start(recover=True)
    yield app
    await app.stop(grace_s=1)


async def _roost(*args: str) -> subprocess.CompletedProcess[str]:
    """A CLI command, off the event loop (the App under test keeps serving)."""
    import asyncio
    import sys

    command = [sys.executable, "-m", "roost", *args]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)


async def test_ask_planner_goes_through_the_gateway_as_chat_send_planner(
    planning_gateway: App, fake_llm: FakeLLM
) -> None:
    asked = await _roost("--verbose", "ask", "assistant", "think hard", "--planner", "--json")
    assert asked.returncode == 0, asked.stderr
    assert "via gateway" in asked.stderr  # the turn ran in the serving process
    assert json.loads(asked.stdout)["text"] == "echo: think hard"
    request = fake_llm.last_request
    assert request.api == "openai" and request.body["model"] == "gpt-5"
    assert list(await planning_gateway.ledger.totals_by("role")) == ["planner"]
    routine = await _roost("ask", "assistant", "and now?", "--json")  # no flag: routine
    assert routine.returncode == 0, routine.stderr
    assert fake_llm.last_request.body["model"] == "claude-haiku-4-5"
    roles = await planning_gateway.ledger.totals_by("role")
    assert roles["planner"].calls == 1 and roles["routine"].calls == 1


async def test_chat_send_planner_on_an_agent_without_one_is_a_bad_request(
    planning_gateway: App, fake_llm: FakeLLM
) -> None:
    refused = await _roost("--verbose", "ask", "plain", "hi", "--planner")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "via gateway" in refused.stderr
    assert "agent 'plain' has no planner model" in refused.stderr
    assert not fake_llm.requests
