"""A message sent while no provider was configured is kept in the store but never sent to
the model as context once a provider is configured (issue #10.4)."""

from __future__ import annotations

import json
from pathlib import Path

from roost.app import App
from roost.config.loader import load_settings
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM


async def _ask(config: Path | None, home: Path, text: str) -> str:
    settings = load_settings(config, env={"ROOST_HOME": str(home)})
    app = App(settings)
    await app.start()
    try:
        return (await app.ask("assistant", text, "s")).status
    finally:
        await app.stop()


async def test_an_unconfigured_turn_leaves_its_message_out_of_later_context(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    assert await _ask(None, home, "sent before any provider") == "unconfigured"
    config = write_config(
        provider_yaml(fake_llm) + "agents:\n  assistant: {model: claude/claude-haiku-4-5}\n"
    )
    fake_llm.reply("first real answer")
    assert await _ask(config, home, "the first real question") == "ok"
    sent = json.dumps(fake_llm.last_request.body["messages"])
    assert "the first real question" in sent
    assert "sent before any provider" not in sent
    assert await _ask(config, home, "and a second one") == "ok"
    sent = json.dumps(fake_llm.last_request.body["messages"])
    assert "the first real question" in sent and "first real answer" in sent
    assert "sent before any provider" not in sent


async def test_the_unconfigured_message_is_still_stored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert await _ask(None, home, "kept for the record") == "unconfigured"
    settings = load_settings(None, env={"ROOST_HOME": str(home)})
    app = App(settings)
    await app.start()
    try:
        session_id = await app.conversations.session_id("assistant", "s")
        shown = await app.conversations.history(session_id)
        context = await app.conversations.history(session_id, context=True)
    finally:
        await app.stop()
    assert [m.text for m in shown] == ["kept for the record"]
    assert context == []
