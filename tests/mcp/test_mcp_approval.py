"""``ask`` tools through an approval gate (the protocol in roost/mcp/approval.py): the
call waits for the owner's decision; approved, it runs; denied, the server never sees it."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from roost.app import App
from roost.builtin_features import served_features
from roost.config.loader import load_settings
from roost.mcp.feature import McpFeature
from roost.ports import CorePorts
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.mcp.conftest import stdio_server, wait_for_state


@dataclasses.dataclass
class OwnerSays:
    answers: list[bool]
    asked: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)

    async def request(self, agent: str, tool: str, summary: str) -> bool:
        self.asked.append((agent, tool, summary))
        return self.answers.pop(0)


async def test_ask_tools_wait_for_the_gate_and_run_only_when_approved(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    server = stdio_server(tools={"echo": "ask"})
    config = {
        "home": str(tmp_path / "home"),
        "gateway": {"enabled": False},
        "mcp_servers": {"srv": server},
        "agents": {"assistant": {"model": "claude/claude-haiku-4-5", "tools": ["mcp:srv"]}},
    }
    import yaml

    settings = load_settings(
        write_config(provider_yaml(fake_llm) + yaml.safe_dump(config)), env=os.environ
    )
    owner = OwnerSays([False, True])

    def mcp_with_gate(core: CorePorts) -> McpFeature:
        return McpFeature(core, approvals=owner)

    features = [f for f in served_features(settings) if f is not McpFeature]
    app = App(settings, [*features, mcp_with_gate])
    await app.start(recover=True)
    try:
        await wait_for_state(app, "srv", "ready")
        fake_llm.tool_call("srv__echo", {"text": "first"})
        fake_llm.tool_call("srv__echo", {"text": "second"})
        fake_llm.tool_call("srv__pid", {})
        fake_llm.reply("done")
        assert (await app.ask("assistant", "go", "s1")).text == "done"
    finally:
        await app.stop(grace_s=1)
    bodies = [json.dumps(request.body) for request in fake_llm.requests]
    assert "the owner did not approve this call of srv__echo; it was not made" in bodies[1]
    assert "echo: first" not in bodies[1]
    assert "echo: second" in bodies[2]
    assert owner.asked == [
        ("assistant", "srv__echo", 'srv__echo {"text": "first"}'),
        ("assistant", "srv__echo", 'srv__echo {"text": "second"}'),
    ]  # pid is not marked ask: it ran without asking
