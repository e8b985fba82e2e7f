"""Front-end-like clients resend the whole history: Roost keeps it, in one session."""

from __future__ import annotations

import dataclasses
from typing import Any

from openai.types.chat import ChatCompletionMessageParam

from roost.config.settings import Settings
from tests.fakes.llm_server import FakeLLM
from tests.openai_api.conftest import Roost, RoostFactory, sent_messages, sent_system


class FrontEnd:
    """A chat front end: keeps the conversation and resends all of it each time."""

    def __init__(self, roost: Roost, system: str | None = None, **headers: str) -> None:
        self.client = roost.openai(**headers)
        self.messages: list[ChatCompletionMessageParam] = []
        if system is not None:
            self.messages.append({"role": "system", "content": system})

    async def say(self, text: str, **options: Any) -> str:
        self.messages.append({"role": "user", "content": text})
        completion = await self.client.chat.completions.create(
            model="assistant", messages=self.messages, **options
        )
        answer = completion.choices[0].message.content or ""
        self.messages.append({"role": "assistant", "content": answer})
        return answer

    def edit(self, index: int, text: str) -> None:
        """Edit the user message at ``index`` and drop what followed (as front ends do)."""
        self.messages[index:] = [{"role": "user", "content": text}]
        self.messages.pop()  # ``say`` appends it again

    async def close(self) -> None:
        await self.client.close()


async def test_resent_history_continues_one_session_without_duplicates(
    roost: Roost, fake_llm: FakeLLM
) -> None:
    front = FrontEnd(roost, **{"X-Roost-Client": "webui"})
    fake_llm.reply("Hello Ada")
    fake_llm.reply("You said your name is Ada")
    assert await front.say("I am Ada") == "Hello Ada"
    assert await front.say("What is my name?") == "You said your name is Ada"
    await front.close()
    # The agent saw each earlier turn once: from its own history, not the resent copy.
    assert sent_messages(fake_llm) == [
        ("user", "I am Ada"),
        ("assistant", "Hello Ada"),
        ("user", "What is my name?"),
    ]
    sessions = await roost.sessions()
    assert len(sessions) == 1 and sessions[0]["key"].startswith("openai:webui:")
    assert sessions[0]["messages"] == 4


async def test_two_conversations_with_different_starts_are_two_sessions(
    roost: Roost, fake_llm: FakeLLM
) -> None:
    first, second = FrontEnd(roost), FrontEnd(roost)
    await first.say("about cats")
    await second.say("about dogs")
    await first.say("more cats")
    await first.close()
    await second.close()
    assert sent_messages(fake_llm)[0] == ("user", "about cats")
    assert sorted(s["messages"] for s in await roost.sessions()) == [2, 4]


async def test_an_edited_earlier_message_starts_a_new_session_with_the_history_as_context(
    roost: Roost, fake_llm: FakeLLM
) -> None:
    front = FrontEnd(roost)
    fake_llm.reply("noted: blue")
    fake_llm.reply("blue, then")
    await front.say("my colour is blue")
    await front.say("say my colour")
    front.edit(2, "say my colour twice")  # edit the second question
    fake_llm.reply("blue blue")
    assert await front.say("say my colour twice") == "blue blue"
    branched = sent_messages(fake_llm)
    assert len(branched) == 1  # a new session...
    role, text = branched[0]
    assert role == "user"  # ...whose first input carries what the client showed before
    assert "user: my colour is blue\nassistant: noted: blue" in text
    assert text.endswith("\n\nsay my colour twice") and "say my colour\n" not in text
    fake_llm.reply("still blue")
    await front.say("and again?")  # the branch goes on in its session
    await front.close()
    assert sent_messages(fake_llm)[1:] == [
        ("assistant", "blue blue"),
        ("user", "and again?"),
    ]
    assert sorted(s["messages"] for s in await roost.sessions()) == [4, 4]


async def test_the_roost_session_header_and_the_user_field_name_the_session(
    roost: Roost, fake_llm: FakeLLM
) -> None:
    async with roost.openai(**{"X-Roost-Session": "main"}) as client:
        await client.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": "via header"}]
        )
    async with roost.openai() as client:
        await client.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": "as ada"}], user="ada"
        )
        await client.chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "x"}, {"role": "user", "content": "again"}],
            user="ada",
        )
    assert [m["text"] for m in await roost.history("main")] == ["via header", "echo: via header"]
    ada = [m["text"] for m in await roost.history("openai-user:ada")]
    assert ada == ["as ada", "echo: as ada", "again", "echo: again"]


async def test_client_system_messages_are_ignored_by_default(
    roost: Roost, fake_llm: FakeLLM
) -> None:
    front = FrontEnd(roost, system="You are a pirate.")
    await front.say("hello")
    await front.close()
    assert sent_system(fake_llm).startswith("You are a test assistant.")
    assert "pirate" not in sent_system(fake_llm) and "pirate" not in str(sent_messages(fake_llm))


def _append_system(settings: Settings) -> Settings:
    agent = dataclasses.replace(settings.agents["assistant"], openai_system="append")
    return dataclasses.replace(settings, agents={**settings.agents, "assistant": agent})


async def test_client_system_messages_are_appended_as_context_when_the_agent_says_so(
    start_roost: RoostFactory, fake_llm: FakeLLM
) -> None:
    roost = await start_roost(_append_system)
    front = FrontEnd(roost, system="Answer in French.")
    await front.say("hello")
    # The agent's own system prompt stays; the client's comes with the input, once.
    assert sent_system(fake_llm).startswith("You are a test assistant.")
    [(_, first)] = sent_messages(fake_llm)
    assert "Answer in French." in first and first.endswith("\n\nhello")
    await front.say("and now?")
    await front.close()
    assert sent_messages(fake_llm)[-1] == ("user", "and now?")
    assert len(await roost.sessions()) == 1
