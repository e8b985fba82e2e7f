"""The `openai` SDK against a real `roost run` process (the gateway found as clients find it)."""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
from pathlib import Path

from openai import AsyncOpenAI

from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM, FakeUsage
from tests.support.roost_run import start_roost_run

TOKEN = "run-token"


async def test_an_openai_client_talks_to_roost_run(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    write_config(
        provider_yaml(fake_llm)
        + textwrap.dedent(
            f"""\
            home: {home}
            gateway: {{port: 0, token: {TOKEN}}}
            agents:
              assistant: {{model: claude/claude-haiku-4-5, tools: []}}
            """
        )
    )
    run = await asyncio.to_thread(start_roost_run, home)
    try:
        client = AsyncOpenAI(base_url=f"{run.http_url}/v1", api_key=TOKEN, max_retries=0)
        fake_llm.reply("first answer", usage=FakeUsage(input_tokens=7, output_tokens=3))
        fake_llm.reply("second answer")
        assert [model.id for model in (await client.models.list()).data] == ["assistant"]
        history = [{"role": "user", "content": "first question"}]
        completion = await client.chat.completions.create(model="assistant", messages=history)
        assert completion.choices[0].message.content == "first answer"
        assert completion.usage is not None and completion.usage.total_tokens == 10
        stream = await client.chat.completions.create(
            model="assistant",
            messages=[
                *history,
                {"role": "assistant", "content": "first answer"},
                {"role": "user", "content": "second question"},
            ],
            stream=True,
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "second answer"
        await client.close()
    finally:
        status = run.stop()
    assert status == 0
    with sqlite3.connect(home / "roost.db") as db:
        senders = db.execute("select distinct sender, session from envelopes").fetchall()
        users = db.execute("select text from messages where role = 'user' order by id").fetchall()
    [(sender, session)] = senders  # both requests: one conversation, one session
    assert sender == "openai:AsyncOpenAI" and session.startswith("openai:AsyncOpenAI:")
    assert users == [("first question",), ("second question",)]
