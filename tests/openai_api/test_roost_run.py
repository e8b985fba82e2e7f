"""The `openai` SDK against a real `roost run` process (the gateway found as clients find it)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from openai import AsyncOpenAI

from roost.gateway.discovery import Endpoint, read_endpoint
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM, FakeUsage

TOKEN = "run-token"
WAIT_S = 60.0


def _start(home: Path) -> tuple[subprocess.Popen[str], Endpoint]:
    """Start `roost run` and wait for its gateway (run in a thread: it polls a file)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "roost", "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + WAIT_S
    while (endpoint := read_endpoint(home)) is None or endpoint.pid != process.pid:
        if process.poll() is not None:
            stderr = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"roost run exited: {stderr}")
        assert time.monotonic() < deadline, "roost run did not start its gateway"
        time.sleep(0.02)
    return process, endpoint


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
    process, endpoint = await asyncio.to_thread(_start, home)
    try:
        client = AsyncOpenAI(base_url=f"{endpoint.http_url}/v1", api_key=TOKEN, max_retries=0)
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
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=WAIT_S)
    assert process.returncode == 0
    with sqlite3.connect(home / "roost.db") as db:
        senders = db.execute("select distinct sender, session from envelopes").fetchall()
        users = db.execute("select text from messages where role = 'user' order by id").fetchall()
    [(sender, session)] = senders  # both requests: one conversation, one session
    assert sender == "openai:AsyncOpenAI" and session.startswith("openai:AsyncOpenAI:")
    assert users == [("first question",), ("second question",)]
