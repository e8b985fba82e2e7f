"""Whole turns through the real stack: App -> agent -> provider SDK -> fake LLM over HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from roost.agents.actor import Agent
from roost.agents.observer import TurnObserver
from roost.agents.turn import TurnDeps, TurnOrigin, TurnResult
from roost.app import App, UnknownAgent
from roost.providers.base import ToolCall
from roost.tools.registry import ToolOutcome
from tests.fakes.llm_server import FakeLLM, FakeUsage


class Recorder(TurnObserver):
    def __init__(self) -> None:
        self.deltas: list[str] = []
        self.tools: list[tuple[str, str, bool | None]] = []

    async def on_text(self, delta: str) -> None:
        self.deltas.append(delta)

    async def on_tool_start(self, call: ToolCall) -> None:
        self.tools.append(("start", call.name, None))

    async def on_tool_end(self, call: ToolCall, outcome: ToolOutcome) -> None:
        self.tools.append(("end", call.name, outcome.is_error))


@pytest.mark.parametrize(("agent", "api"), [("assistant", "anthropic"), ("coder", "openai")])
async def test_a_turn_on_each_provider_streams_stores_and_prices(
    app: App, fake_llm: FakeLLM, agent: str, api: str
) -> None:
    fake_llm.reply("Hello from the fake model!", usage=FakeUsage(1200, 30, cache_read=400))
    recorder = Recorder()
    result = await app.ask(agent, "hello", "t1", recorder)
    assert result.ok and result.text == "Hello from the fake model!"
    assert len(recorder.deltas) > 1 and "".join(recorder.deltas) == result.text
    assert fake_llm.last_request.api == api
    assert (result.usage.input_tokens, result.usage.output_tokens) == (1200, 30)
    assert result.usage.cache_read_tokens == 400
    price = app.ledger.prices.lookup("x", app.settings.agents[agent].model)
    assert price is not None
    expected = (1200 * price.input + 30 * price.output + 400 * price.cache_read) / 1e6
    assert result.cost_usd == pytest.approx(expected)
    report = await app.ledger.report()
    assert report.by_agent[agent].calls == 1
    assert report.by_agent[agent].cost_usd == pytest.approx(expected)
    session = await app.conversations.session_id(agent, "t1")
    history = await app.conversations.history(session)
    assert [(m.role, m.text) for m in history] == [
        ("user", "hello"),
        ("assistant", "Hello from the fake model!"),
    ]


@pytest.mark.parametrize("agent", ["assistant", "coder"])
async def test_the_tool_loop_runs_tools_and_feeds_results_back(
    app: App, fake_llm: FakeLLM, agent: str
) -> None:
    workspace = app.settings.agents[agent].workspace
    fake_llm.tool_call("write_file", {"path": "plan.md", "content": "step 1"}, text="Writing.")
    fake_llm.tool_call("read_file", {"path": "missing.md"})
    fake_llm.reply("Done: plan.md written.")
    recorder = Recorder()
    result = await app.ask(agent, "make a plan", "tools", recorder)
    assert result.ok and result.text == "Done: plan.md written." and result.rounds == 3
    assert (workspace / "plan.md").read_text() == "step 1"
    assert recorder.tools == [
        ("start", "write_file", None),
        ("end", "write_file", False),
        ("start", "read_file", None),
        ("end", "read_file", True),
    ]
    # The tool error reached the model as a tool result in the third request.
    third = json.dumps(fake_llm.requests[2].body)
    assert "'missing.md' does not exist" in third
    session = await app.conversations.session_id(agent, "tools")
    roles = [m.role for m in await app.conversations.history(session)]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert (await app.ledger.report()).by_agent[agent].calls == 3


async def test_unknown_tools_and_invalid_arguments_go_back_to_the_model(
    app: App, fake_llm: FakeLLM
) -> None:
    fake_llm.tool_call("rm_rf", {"path": "/"})
    fake_llm.tool_call("write_file", '{"path": "x.txt", "content": ')
    fake_llm.tool_call("write_file", {"path": "x.txt"})
    fake_llm.reply("I could not do it.")
    result = await app.ask("assistant", "try things", "bad-tools")
    assert result.ok and result.text == "I could not do it."
    bodies = [json.dumps(r.body) for r in fake_llm.requests]
    assert "unknown tool 'rm_rf'" in bodies[1]
    assert "not valid JSON" in bodies[2]
    assert "content: Field required" in bodies[3]


async def test_max_tool_rounds_ends_the_turn_with_a_clear_message(
    app: App, fake_llm: FakeLLM
) -> None:
    for _ in range(5):
        fake_llm.tool_call("list_files", {})
    result = await app.ask("coder", "loop forever", "loop")
    assert result.status == "max_rounds" and result.rounds == 3
    assert "Stopped after 3 tool rounds" in result.text and "max_tool_rounds" in result.text
    assert len(fake_llm.requests) == 3
    # The session stays usable: the next turn's request is well formed.
    fake_llm.reset()
    fake_llm.reply("back")
    assert (await app.ask("coder", "stop now", "loop")).text == "back"


async def test_rate_limit_then_success(app: App, fake_llm: FakeLLM) -> None:
    fake_llm.fail(429, "slow down", retry_after=0.05)
    fake_llm.reply("made it")
    result = await app.ask("assistant", "hi", "retry")
    assert result.ok and result.text == "made it"
    assert len(fake_llm.requests) == 2
    assert (await app.ledger.report()).total.calls == 1


async def test_provider_failure_is_reported_recorded_and_not_fatal(
    app: App, fake_llm: FakeLLM
) -> None:
    fake_llm.fail(500, "upstream exploded", times=3)  # max_retries 2 -> 3 attempts
    result = await app.ask("assistant", "hi", "fail")
    assert result.status == "error" and "HTTP 500" in (result.error or "")
    assert result.text.startswith("The model call failed")
    assert "test-key" not in result.text
    report = await app.ledger.report()
    assert report.total.calls == 1 and report.total.cost_usd == 0
    fake_llm.reply("fine again")
    assert (await app.ask("assistant", "again?", "fail")).text == "fine again"
    # The failed turn's user message is kept: the retry sees both questions.
    assert "hi" in json.dumps(fake_llm.last_request.body)


async def test_sessions_continue_and_stay_apart(app: App, fake_llm: FakeLLM) -> None:
    await app.ask("assistant", "my name is Ada", "one")
    await app.ask("assistant", "unrelated", "two")
    await app.ask("assistant", "what is my name?", "one")
    last = json.dumps(fake_llm.last_request.body)
    assert "my name is Ada" in last and "unrelated" not in last


async def test_one_turn_at_a_time_per_session_but_sessions_run_concurrently(
    app: App, fake_llm: FakeLLM
) -> None:
    fake_llm.delay(1.0)
    slow_same = asyncio.create_task(app.ask("assistant", "first", "same"))
    await asyncio.to_thread(fake_llm.wait_for_requests, 1, 30)  # slow call in flight
    second_same = asyncio.create_task(app.ask("assistant", "second", "same"))
    other = asyncio.create_task(app.ask("coder", "other agent", "else"))
    done_other = await other
    # Another agent was not held up by the slow turn; the same session was.
    assert not slow_same.done() and not second_same.done()
    assert len(fake_llm.requests) == 2
    first, second = await slow_same, await second_same
    assert (first.text, second.text, done_other.text) == (
        "echo: first",
        "echo: second",
        "echo: other agent",
    )
    # The second turn of the session was sent after the first finished: it carries it.
    second_body = next(
        json.dumps(r.body) for r in fake_llm.requests if "second" in json.dumps(r.body)
    )
    assert "echo: first" in second_body


async def test_a_crashing_agent_recovers_and_others_keep_going(app: App, fake_llm: FakeLLM) -> None:
    calls = 0

    async def flaky(
        deps: TurnDeps,
        session: str,
        text: str,
        observer: TurnObserver | None,
        origin: TurnOrigin | None,
    ) -> TurnResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return TurnResult(deps.settings.name, session, "recovered", "ok")

    broken = Agent(app.agents["assistant"].deps, runner=flaky)
    broken.start()
    try:
        failed = await broken.ask("s", "hi")
        assert failed.status == "error" and "RuntimeError: boom" in failed.text
        assert (await app.ask("coder", "still there?", "s")).text == "echo: still there?"
        assert (await broken.ask("s", "again")).text == "recovered"
    finally:
        await broken.stop()


async def test_a_turn_that_fails_unexpectedly_is_not_left_running(
    app: App, fake_llm: FakeLLM
) -> None:
    from dataclasses import replace

    from roost.agents.turn import run_turn
    from roost.providers.base import Message
    from roost.store.conversations import Conversations

    class BrokenStore(Conversations):
        async def append(
            self, session_id: int, turn_id: int | None, message: Message, **kwargs: Any
        ) -> None:
            if message.role == "assistant":
                raise OSError("disk full")
            await super().append(session_id, turn_id, message, **kwargs)

    deps = replace(app.agents["assistant"].deps, conversations=BrokenStore(app.db))
    with pytest.raises(OSError, match="disk full"):
        await run_turn(deps, "broken", "hi")
    async with app.db.engine.connect() as connection:
        from sqlalchemy import select

        from roost.store.tables import turns

        rows = (await connection.execute(select(turns.c.status, turns.c.error))).all()
    assert [(status, "disk full" in (error or "")) for status, error in rows] == [("error", True)]


async def test_no_provider_answers_with_one_clear_sentence(tmp_path: Path) -> None:
    from roost.config.loader import load_settings

    settings = load_settings(None, env={"ROOST_HOME": str(tmp_path / "h")})
    app = App(settings)
    await app.start()
    try:
        result = await app.ask("assistant", "hello", "s")
    finally:
        await app.stop()
    assert result.status == "unconfigured"
    assert "ANTHROPIC_API_KEY" in result.text and "roost init" in result.text
    assert result.text.endswith(".") and ". " not in result.text  # one sentence


async def test_unknown_agent_names_the_known_ones(app: App) -> None:
    with pytest.raises(UnknownAgent, match=r"unknown agent 'nobody' \(known: assistant, coder\)"):
        await app.ask("nobody", "hi", "s")


async def test_stopping_interrupts_a_running_turn_and_records_it(
    app: App, fake_llm: FakeLLM
) -> None:
    fake_llm.delay(5)
    task = asyncio.create_task(app.ask("assistant", "slow", "stop"))
    await asyncio.to_thread(fake_llm.wait_for_requests, 1, 30)
    await app.agents["assistant"].stop(grace_s=0.1)
    with pytest.raises(asyncio.CancelledError):
        await task
    from sqlalchemy import select

    from roost.store.tables import turns

    async with app.db.engine.connect() as connection:
        statuses = (await connection.execute(select(turns.c.status))).scalars().all()
    assert statuses == ["interrupted"]
