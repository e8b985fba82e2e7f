"""notify_owner: a message to the owner's Telegram chat through the outbox, capped and
rate-limited; not offered where there is no owner chat."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

from roost.app import App
from roost.config.settings import Settings
from tests.channels.conftest import OWNER, RoostFactory, wait_sent
from tests.fakes.llm_server import FakeLLM
from tests.fakes.telegram import FakeTelegram


def _with_notify(settings: Settings) -> Settings:
    agents = dict(settings.agents)
    agents["assistant"] = dataclasses.replace(agents["assistant"], tools=("notify_owner",))
    return dataclasses.replace(settings, agents=agents)


async def test_the_owner_gets_the_message_through_the_bot_api(
    start_roost: RoostFactory, tg_settings: Settings, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    roost = await start_roost(_with_notify(tg_settings))
    fake_llm.tool_call("notify_owner", {"text": "The backup finished: 3 GB"})
    fake_llm.reply("Told them.")
    result = await roost.app.ask("assistant", "tell my owner the backup is done", "s")
    assert result.ok
    [sent] = await wait_sent(fake, 1, OWNER)
    assert sent.visible_text == "[assistant] The backup finished: 3 GB"
    tool_result = json.dumps(fake_llm.requests[1].body)
    assert "queued for the owner" in tool_result


async def test_length_and_rate_are_capped(
    start_roost: RoostFactory, tg_settings: Settings, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    roost = await start_roost(_with_notify(tg_settings))
    fake_llm.tool_call("notify_owner", {"text": "x" * 2001})
    for number in range(11):
        fake_llm.tool_call("notify_owner", {"text": f"ping {number}"})
    fake_llm.reply("done")
    await roost.app.ask("assistant", "spam the owner", "s")
    results = [json.dumps(request.body) for request in fake_llm.requests[1:]]
    assert "at most 2000 characters" in results[0]
    assert "10 notifications in the last hour is the limit" in results[-1]
    sent = await wait_sent(fake, 10, OWNER)
    assert len(sent) == 10 and sent[-1].visible_text == "[assistant] ping 9"


def test_not_offered_without_an_owner_chat(settings: Settings) -> None:
    assert "notify_owner" not in App(_with_notify(settings)).tools.names()


async def test_listed_without_an_owner_chat_doctor_and_the_start_say_so(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from roost.cli.doctor_checks import feature_checks

    listed = _with_notify(settings)
    found = await feature_checks(listed, ("roost.tools.notify:doctor_checks",))
    assert found == [
        (
            None,
            "notify_owner (assistant): not offered, there is no owner chat: add the owner's "
            "numeric Telegram id to telegram.allowed_users",
        )
    ]
    assert await feature_checks(settings, ("roost.tools.notify:doctor_checks",)) == []
    app = App(listed)
    with caplog.at_level(logging.WARNING, logger="roost.tools.notify"):
        await app.start(recover=True)
        await app.stop(grace_s=1)
    assert [r.getMessage() for r in caplog.records if r.name == "roost.tools.notify"] == [
        found[0][1]
    ]
