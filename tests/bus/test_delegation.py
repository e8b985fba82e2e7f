"""Agents that message and delegate to each other, through the inbox, within a depth limit."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import pytest

from roost.app import App
from roost.bus.envelope import Envelope
from roost.bus.events import TRAFFIC, Event
from roost.config.settings import Settings
from roost.testing import RecordingChannel
from roost.tools.untrusted import untrusted
from tests.bus.conftest import eventually
from tests.fakes.llm_server import FakeLLM


def _with_delegation(settings: Settings, depth: int = 3) -> Settings:
    agents = {
        name: dataclasses.replace(agent, tools=(*agent.tools, "send_message", "ask_agent"))
        for name, agent in settings.agents.items()
    }
    return dataclasses.replace(settings, agents=agents, max_delegation_depth=depth)


@pytest.fixture
async def team(settings: Settings, channel: RecordingChannel) -> AsyncIterator[App]:
    app = App(_with_delegation(settings))
    app.dispatcher.register(channel)
    await app.start(recover=True)
    yield app
    await app.stop(grace_s=1)


def _from_alice(body: str, session: str = "s") -> Envelope:
    return Envelope(
        sender="test:alice",
        recipient="agent:assistant",
        session=session,
        body=body,
        reply_to="test:alice",
    )


async def test_ask_agent_waits_for_the_other_agents_answer(
    team: App, channel: RecordingChannel, fake_llm: FakeLLM
) -> None:
    fake_llm.tool_call("ask_agent", {"agent": "coder", "question": "what is 6*7?"})
    fake_llm.reply("42")  # coder's answer
    fake_llm.reply("The coder says 42.")  # assistant, after reading the tool result
    await team.router.submit(_from_alice("ask the coder"))
    [reply] = await channel.wait_for(1)
    assert reply.body == "The coder says 42."
    coder_request, final_request = fake_llm.requests[1], fake_llm.requests[2]
    question = untrusted("question from agent assistant", "what is 6*7?")
    assert json.dumps(question) in json.dumps(coder_request.body)  # marked as data
    # The answer came back as a tool result, marked as data too.
    assert json.dumps(untrusted("answer from agent coder", "42")) in json.dumps(final_request.body)
    sessions = [s.key for s in await team.conversations.list_sessions("coder")]
    assert sessions == ["from:assistant:s"]


async def test_delegation_past_the_depth_limit_is_a_tool_error_the_model_reads(
    settings: Settings, channel: RecordingChannel, fake_llm: FakeLLM
) -> None:
    app = App(_with_delegation(settings, depth=1))
    app.dispatcher.register(channel)
    await app.start(recover=True)
    try:
        # assistant → coder (depth 1, allowed) → assistant (depth 2, refused)
        fake_llm.tool_call("ask_agent", {"agent": "coder", "question": "ask me back"})
        fake_llm.tool_call("ask_agent", {"agent": "assistant", "question": "loop?"})
        fake_llm.reply("I cannot delegate further.")  # coder reads the refusal
        fake_llm.reply("done")  # assistant
        await app.router.submit(_from_alice("start a loop"))
        [reply] = await channel.wait_for(1)
        assert reply.body == "done"
        refusal_seen_by_coder = json.dumps(fake_llm.requests[2].body)
        assert "max_delegation_depth" in refusal_seen_by_coder
        assert "refused" in refusal_seen_by_coder
        assert len(fake_llm.requests) == 4  # no call was made for the refused hop
    finally:
        await app.stop(grace_s=1)


async def test_send_message_returns_at_once_and_the_reply_comes_back_later(
    team: App, channel: RecordingChannel, fake_llm: FakeLLM
) -> None:
    traffic: list[Event] = []
    team.events.subscribe(TRAFFIC, traffic.append)
    fake_llm.tool_call("send_message", {"to": "coder", "text": "please review plan.md"})
    # From here both agents run concurrently: let the fake echo, and check the routing.
    await team.router.submit(_from_alice("get a review", session="review"))
    # Alice gets the assistant's first answer, then its answer to the coder's reply.
    replies = await channel.wait_for(2)
    assert all(r.target == "test:alice" for r in replies)
    history = await team.conversations.history(
        await team.conversations.session_id("assistant", "review")
    )
    arrived = [m.text for m in history if m.role == "user"]
    assert arrived[0] == "get a review"
    assert arrived[1].startswith('<untrusted source="reply from agent coder">\necho: ')
    # The message the coder echoed was marked too; inside the reply it can no longer close it.
    assert '&lt;untrusted source="message from agent assistant">' in arrived[1]
    assert arrived[1].count("</untrusted>") == 1
    coder_history = await team.conversations.history(
        await team.conversations.session_id("coder", "from:assistant:review")
    )
    assert coder_history[0].text == untrusted(
        "message from agent assistant", "please review plan.md"
    )

    async def seen_in_traffic() -> bool:
        routes = {(e.data.get("from"), e.data.get("to")) for e in traffic if e.name == "message"}
        return {("agent:assistant", "agent:coder"), ("agent:coder", "agent:assistant")} <= routes

    await eventually(seen_in_traffic)


async def test_an_agent_cannot_delegate_to_itself_or_to_a_stranger(
    team: App, channel: RecordingChannel, fake_llm: FakeLLM
) -> None:
    fake_llm.tool_call("ask_agent", {"agent": "assistant", "question": "me?"})
    fake_llm.tool_call("send_message", {"to": "nobody", "text": "hi"})
    fake_llm.reply("ok")
    await team.router.submit(_from_alice("try"))
    await channel.wait_for(1)
    seen = json.dumps(fake_llm.requests[-1].body)
    assert "an agent cannot message itself" in seen
    assert "unknown agent 'nobody'" in seen
