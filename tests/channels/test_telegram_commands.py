"""Every command of the Telegram channel, through the fake Bot API and the fake LLM."""

from __future__ import annotations

import dataclasses
import json

from roost.channels.telegram.commands import MENU
from roost.config.schedules import ScheduleConfig
from roost.config.settings import Settings
from tests.channels.conftest import OWNER, Roost, RoostFactory, settle, texts, wait_sent
from tests.fakes.llm_server import FakeLLM
from tests.fakes.telegram import FakeTelegram


async def ask(fake: FakeTelegram, text: str, count: int) -> str:
    """Send ``text`` as the owner; wait for the ``count``-th message to the owner."""
    fake.send_text(OWNER, text)
    sent = await wait_sent(fake, count, OWNER)
    return sent[count - 1].visible_text


async def test_start_registers_the_menu_and_removes_a_stale_webhook(
    roost: Roost, fake: FakeTelegram
) -> None:
    assert [c["command"] for c in fake.commands] == [name for name, _ in MENU]
    assert fake.calls_to("getMe") and fake.calls_to("deleteWebhook")
    assert roost.service.health()["state"] == "ok"
    assert roost.service.health()["bot"] == "@roost_test_bot"
    reply = await ask(fake, "/start", 1)
    assert "/agents" in reply and "current agent: assistant" in reply


async def test_help_and_unknown_command(
    roost: Roost, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    assert "/use NAME" in await ask(fake, "/help", 1)
    reply = await ask(fake, "/frobnicate now", 2)
    assert reply.startswith("Unknown command /frobnicate.") and "/ask NAME text" in reply
    assert not fake_llm.requests  # commands never reach a model


async def test_agents_lists_models_and_marks_this_chat(roost: Roost, fake: FakeTelegram) -> None:
    reply = await ask(fake, "/agents", 1)
    assert "assistant — claude/claude-haiku-4-5, idle ← this chat" in reply
    assert "coder — gpt/gpt-5-mini, idle" in reply


async def test_use_switches_the_chat_and_it_sticks_across_restarts(
    start_roost: RoostFactory, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    first = await start_roost()
    assert "now talks to coder (gpt/gpt-5-mini)" in await ask(fake, "/use coder", 1)
    assert await ask(fake, "hello coder", 2) == "echo: hello coder"
    assert fake_llm.last_request.body["model"] == "gpt-5-mini"
    assert "no agent 'nobody'" in await ask(fake, "/use nobody", 3)
    await first.stop()
    await start_roost()
    assert await ask(fake, "still you?", 4) == "echo: still you?"
    assert fake_llm.last_request.body["model"] == "gpt-5-mini"


async def test_ask_reaches_another_agent_without_switching(
    roost: Roost, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    assert await ask(fake, "/ask coder what is 2+2", 1) == "echo: what is 2+2"
    assert fake_llm.last_request.body["model"] == "gpt-5-mini"
    assert await ask(fake, "and you?", 2) == "echo: and you?"
    assert fake_llm.last_request.body["model"] == "claude-haiku-4-5"
    assert "Usage: /ask NAME text" in await ask(fake, "/ask coder", 3)


async def test_new_starts_a_fresh_session(
    roost: Roost, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    fake_llm.reply("Hello Ada.")
    await ask(fake, "my name is Ada", 1)
    await ask(fake, "what is my name?", 2)
    assert "Ada" in json.dumps(fake_llm.last_request.body["messages"])
    assert "new session with assistant" in await ask(fake, "/new", 3)
    await ask(fake, "what is my name?", 4)
    assert "Ada" not in json.dumps(fake_llm.last_request.body["messages"])


async def test_stop_cancels_the_running_turn(
    roost: Roost, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    assert await ask(fake, "/stop", 1) == "Nothing is running in this chat."
    fake_llm.delay(5)
    fake.send_text(OWNER, "take your time")
    await fake.wait_until_async(lambda: len(fake_llm.requests) == 1)
    fake.send_text(OWNER, "/stop")
    sent = await wait_sent(fake, 2, OWNER)
    assert sent[1].visible_text == "Cancelled."
    await settle(roost, fake)
    assert len(texts(fake, OWNER)) == 2


async def test_status_and_cost_after_a_turn(roost: Roost, fake: FakeTelegram) -> None:
    await ask(fake, "hello", 1)
    status = await ask(fake, "/status", 2)
    assert "Agents: 2" in status and "Spent today: $" in status and "telegram: ok" in status
    cost = await ask(fake, "/cost", 3)
    assert cost.startswith("Today: $") and "This month: $" in cost
    assert "assistant: $" in cost and "claude/claude-haiku-4-5: $" in cost
    assert "1 call" in cost


async def test_jobs_without_a_scheduler(roost: Roost, fake: FakeTelegram) -> None:
    assert await ask(fake, "/jobs", 1) == "The scheduler is not running in this Roost."


async def test_jobs_list_pause_resume_and_run(
    tg_settings: Settings, start_roost: RoostFactory, fake: FakeTelegram
) -> None:
    job = ScheduleConfig(
        agent="assistant", prompt="daily report", cron="0 9 * * *", deliver=[f"telegram:{OWNER}"]
    )
    await start_roost(dataclasses.replace(tg_settings, schedules={"report": job}), scheduler=True)
    listing = await ask(fake, "/jobs", 1)
    assert "report (assistant)" in listing and "active" in listing
    assert "Paused job report" in await ask(fake, "/jobs pause report", 2)
    assert "Resumed job report; next run" in await ask(fake, "/jobs resume report", 3)
    assert "Started job report" in await ask(fake, "/jobs run report", 4)
    sent = await wait_sent(fake, 5, OWNER)
    assert sent[4].visible_text == "Job report: echo: daily report"
    assert "no job named 'nope'" in await ask(fake, "/jobs run nope", 6)
    assert "Usage: /jobs" in await ask(fake, "/jobs fly report", 7)


async def test_the_owner_is_told_once_at_80_percent_of_a_budget(
    start_roost: RoostFactory, tg_settings: Settings, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    from roost.config.schema import BudgetConfig
    from tests.fakes.llm_server import FakeUsage

    assistant = dataclasses.replace(
        tg_settings.agents["assistant"], budget=BudgetConfig(daily_usd=1.25, on_exceed="warn")
    )
    settings = dataclasses.replace(
        tg_settings, agents={**tg_settings.agents, "assistant": assistant}
    )
    roost = await start_roost(settings)
    fake_llm.reply("pricey", usage=FakeUsage(1_000_000, 0))  # $1 of $1.25: 80%
    fake.send_text(OWNER, "hello")
    await wait_sent(fake, 1, OWNER, within=60)  # the first call imports the SDK: slow when loaded
    await ask(fake, "again", 2)  # the check before this turn's call tells the owner
    sent = await wait_sent(fake, 3, OWNER)
    notices = [m.visible_text for m in sent if "Budget at 80%:" in m.visible_text]
    assert len(notices) == 1 and "agent assistant" in notices[0]
    status = await ask(fake, "/status", 4)
    assert "Budget at 80%:" in status
    await ask(fake, "third", 5)
    await settle(roost, fake)
    assert sum("Budget at" in text for text in texts(fake, OWNER)) == 2  # the notice and /status


async def test_plan_runs_the_message_on_the_planner_model(
    start_roost: RoostFactory, tg_settings: Settings, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    assistant = dataclasses.replace(
        tg_settings.agents["assistant"], planner_provider="gpt", planner_model="gpt-5"
    )
    settings = dataclasses.replace(
        tg_settings, agents={**tg_settings.agents, "assistant": assistant}
    )
    roost = await start_roost(settings)
    fake.send_text(OWNER, "/plan a strategy")
    sent = await wait_sent(fake, 1, OWNER, within=60)  # the first call imports the SDK
    assert sent[0].visible_text == "echo: a strategy"
    assert fake_llm.last_request.body["model"] == "gpt-5"
    assert list(await roost.app.ledger.totals_by("role")) == ["planner"]
    assert "now talks to coder" in await ask(fake, "/use coder", 2)
    assert "has no planner model" in await ask(fake, "/plan again", 3)
    assert "Usage: /plan text" in await ask(fake, "/plan", 4)
