"""What every request carries: a first "hello" with every built-in tool, as the SDK sends it.

The issue's target is 4,000 B. With the 17 built-in tools, their names and the JSON
schema skeleton alone (every description empty) take about 3,190 B in the Anthropic
format and 3,580 B in OpenAI's (its per-tool ``{"type":"function","function":…}``
wrapper), so the ceilings below hold the descriptions to about 1,400 B in all:
a description that grows, or a schema keyword that creeps back, fails here.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.app import App
from roost.builtin_features import BUILTIN_FEATURES, known_tool_names
from roost.config.loader import load_settings
from roost.providers.base import ToolCall
from roost.tools.registry import ToolContext
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM

CEILING_BYTES = {"anthropic": 4_600, "openai": 5_000}
"""Measured 4,546 B and 4,935 B (bench/request_bytes.py) when set."""


@pytest.fixture
async def every_tool_app(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> AsyncIterator[App]:
    tools = json.dumps(known_tool_names())
    path = write_config(
        provider_yaml(fake_llm)
        + textwrap.dedent(
            f"""\
            home: {tmp_path / "home"}
            agents:
              everything: {{model: claude/claude-haiku-4-5, tools: {tools}}}
              everything_gpt: {{model: gpt/gpt-5-mini, tools: {tools}}}
            web_search: {{backend: searxng, url: "http://127.0.0.1:9/search"}}
            telegram: {{token: "123456:test", allowed_users: [1001]}}
            """
        )
    )
    settings = load_settings(path, env=os.environ)
    # The scheduler's tools without serving it, as `roost jobs run` builds it.
    scheduler = [f.load() for f in BUILTIN_FEATURES if f.name == "scheduler"]
    app = App(settings, scheduler)
    await app.start()
    yield app
    await app.stop(grace_s=1)


def _offered(body: dict[str, object]) -> list[str]:
    tools = body.get("tools")
    assert isinstance(tools, list)
    return [t.get("name") or t["function"]["name"] for t in tools]


@pytest.mark.parametrize(
    ("agent", "api"), [("everything", "anthropic"), ("everything_gpt", "openai")]
)
async def test_a_first_hello_with_every_tool_stays_under_the_ceiling(
    every_tool_app: App, fake_llm: FakeLLM, agent: str, api: str
) -> None:
    await every_tool_app.ask(agent, "hello", "bytes")
    request = fake_llm.last_request
    # Every tool is there: the figure is not bought by leaving one out.
    assert sorted(_offered(request.body)) == sorted(known_tool_names())
    assert len(request.raw_body) <= CEILING_BYTES[api], len(request.raw_body)


@pytest.mark.parametrize(
    ("tool", "arguments", "refusal"),
    [
        ("shell", {"command": "echo " + "x" * 10_000}, "at most 10,000 characters"),
        ("recall", {"query": "q" * 501}, "at most 500 characters"),
        ("remember", {"text": "note", "tags": [f"t{i}" for i in range(9)]}, "at most 8 tags"),
        ("forget", {"id": 0}, "greater than or equal to 1"),
        ("ask_agent", {"agent": "everything", "question": "", "timeout_s": 5}, "question"),
    ],
)
async def test_a_bound_left_out_of_the_schema_is_still_enforced(
    every_tool_app: App, tool: str, arguments: dict[str, object], refusal: str, tmp_path: Path
) -> None:
    schema = json.dumps(every_tool_app.tools.specs([tool])[0].input_schema)
    assert "minLength" not in schema and "10000" not in schema and "maxItems" not in schema
    outcome = await every_tool_app.tools.run(
        ToolCall("call-1", tool, json.dumps(arguments)),
        ToolContext("everything", "s", tmp_path),
        [tool],
    )
    assert outcome.is_error
    assert f"invalid arguments for {tool}" in outcome.text and refusal in outcome.text
