"""Approvals over Telegram: the owner taps Approve / Deny / Always under the bot's message."""

from __future__ import annotations

import dataclasses
import warnings

import pytest
from pydantic import SecretStr
from telegram.warnings import PTBDeprecationWarning

from roost.channels.telegram.service import TelegramService
from roost.config.schema import TelegramConfig
from tests.approvals.conftest import Roost, RoostFactory, tool_results
from tests.fakes.llm_server import FakeLLM
from tests.fakes.telegram import FakeTelegram, SentMessage

OWNER = 111
STRANGER = 666
WITHIN = 20.0


@pytest.fixture(autouse=True)
def _quiet_ptb_retry_after_warning() -> None:
    warnings.filterwarnings("ignore", "(?s).*attribute `retry_after`", PTBDeprecationWarning)


async def start(start_roost: RoostFactory, fake: FakeTelegram) -> Roost:
    telegram = TelegramConfig(
        token=SecretStr(fake.token), api_base_url=fake.url, allowed_users=[OWNER, "@bob"]
    )
    return await start_roost(
        features=[TelegramService],
        change=lambda settings: dataclasses.replace(settings, telegram=telegram),
    )


async def prompt(fake: FakeTelegram, count: int = 1) -> SentMessage:
    def prompts() -> list[SentMessage]:
        return [m for m in fake.sent if m.chat_id == OWNER and m.buttons]

    await fake.wait_until_async(lambda: len(prompts()) >= count, WITHIN)
    return prompts()[count - 1]


async def answers(fake: FakeTelegram, count: int) -> list[str]:
    def found() -> list[str]:
        return [str(c.params.get("text")) for c in fake.calls_to("answerCallbackQuery")]

    await fake.wait_until_async(lambda: len(found()) >= count, WITHIN)
    return found()


async def edited(fake: FakeTelegram, message_id: int) -> SentMessage:
    def found() -> list[SentMessage]:
        return [
            m for m in fake.sent if m.method == "editMessageText" and m.message_id == message_id
        ]

    await fake.wait_until_async(lambda: bool(found()), WITHIN)
    return found()[-1]


async def test_the_owner_approves_with_a_tap_and_the_turn_goes_on(
    start_roost: RoostFactory, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    roost = await start(start_roost, fake)
    try:
        fake_llm.tool_call("shell", {"command": "touch tapped.txt && echo tapped"})
        fake_llm.reply("all done")
        turn = roost.ask("make a file")
        shown = await prompt(fake)
        assert "ops asks to use shell" in shown.visible_text
        assert "touch tapped.txt && echo tapped" in shown.visible_text
        assert [text for text, _ in shown.buttons] == ["Approve", "Deny"]  # no "Always"
        approve = dict(shown.buttons)["Approve"]

        fake.send_callback_query(STRANGER, approve, message_id=shown.message_id)
        fake.send_callback_query(OWNER, approve, message_id=shown.message_id, user_id=STRANGER)
        assert (await answers(fake, 2)) == ["Only the owner can decide approvals."] * 2
        assert not turn.done()

        fake.send_callback_query(OWNER, approve, message_id=shown.message_id)
        assert (await turn).text == "all done"
        assert "tapped" in tool_results(fake_llm)
        assert (roost.workspace / "tapped.txt").exists()
        assert (await answers(fake, 3))[2] == "✅ Approved"
        after = await edited(fake, shown.message_id)
        assert "✅ Approved (telegram:111 (@alice))" in after.visible_text and not after.buttons

        fake.send_callback_query(OWNER, approve, message_id=shown.message_id)
        assert "decided already" in (await answers(fake, 4))[3]
    finally:
        await roost.stop()


async def test_deny_and_always_taps(
    start_roost: RoostFactory, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    roost = await start(start_roost, fake)
    try:
        fake_llm.tool_call("shell", {"command": "touch denied.txt"})
        fake_llm.reply("not done")
        turn = roost.ask("make a file")
        shown = await prompt(fake)
        assert [text for text, _ in shown.buttons] == ["Approve", "Deny", "Always"]
        fake.send_callback_query(OWNER, dict(shown.buttons)["Deny"], message_id=shown.message_id)
        assert (await turn).text == "not done"
        assert not (roost.workspace / "denied.txt").exists()
        assert "⛔ Denied" in (await edited(fake, shown.message_id)).visible_text

        fake_llm.tool_call("shell", {"command": "touch kept.txt"})
        fake_llm.reply("kept")
        turn = roost.ask("make another")
        shown = await prompt(fake, 2)
        fake.send_callback_query(OWNER, dict(shown.buttons)["Always"], message_id=shown.message_id)
        assert (await turn).text == "kept"
        fake_llm.tool_call("shell", {"command": "touch kept.txt"})
        fake_llm.reply("kept again, unasked")
        assert (await roost.ask("once more")).text == "kept again, unasked"
        assert len([m for m in fake.sent if m.buttons]) == 2
    finally:
        await roost.stop()


async def test_a_decision_made_elsewhere_updates_the_message(
    start_roost: RoostFactory, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    roost = await start(start_roost, fake)
    try:
        fake_llm.tool_call("shell", {"command": "touch x.txt"})
        fake_llm.reply("x")
        turn = roost.ask("make a file")
        shown = await prompt(fake)
        from roost.approvals.service import ApprovalsService
        from roost.tools.approval import Decision

        pending = await roost.app.feature(ApprovalsService).gate.pending()
        await roost.app.feature(ApprovalsService).gate.decide(
            pending[0]["id"], Decision.DENIED, "cli"
        )
        assert (await turn).text == "x"
        assert "⛔ Denied (cli)" in (await edited(fake, shown.message_id)).visible_text
    finally:
        await roost.stop()
