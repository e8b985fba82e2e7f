"""kill -9 in the middle of a turn: after a restart the reply arrives, exactly once."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import websockets

from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.support.roost_run import RoostRun, start_roost_run

TOKEN = "crash-token"
WAIT_S = 30.0


class Client:
    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.ids = 0

    @classmethod
    async def connect(cls, url: str) -> Client:
        ws = await websockets.connect(f"{url}?token={TOKEN}&client=phone")
        hello = json.loads(await ws.recv())
        assert hello["event"] == "hello"
        return cls(ws)

    async def send(self, text: str) -> int:
        self.ids += 1
        await self.ws.send(
            json.dumps(
                {
                    "type": "req",
                    "id": str(self.ids),
                    "method": "chat.send",
                    "params": {"agent": "assistant", "text": text, "session": "crash"},
                }
            )
        )
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), WAIT_S))
            if frame["type"] == "res" and frame["id"] == str(self.ids):
                assert frame["ok"], frame
                return int(frame["result"]["message_id"])

    async def replies(self, until_message: int) -> list[dict[str, Any]]:
        """Every chat.reply/chat.error up to and including the one for ``until_message``."""
        seen: list[dict[str, Any]] = []
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), WAIT_S))
            if frame["type"] == "event" and frame["event"] in ("chat.reply", "chat.error"):
                seen.append(frame["data"])
                if frame["data"]["message_id"] == until_message:
                    return seen


def _one_agent_home(fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path) -> Path:
    """A config with one tool-less agent on the fake LLM and a gateway on a free port."""
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
    return home


async def test_kill_9_mid_turn_then_restart_delivers_the_reply_exactly_once(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    home = _one_agent_home(fake_llm, write_config, tmp_path)
    first = start_roost_run(home)
    try:
        client = await Client.connect(first.ws_url)
        fake_llm.delay(60)
        message_id = await client.send("a slow question")  # acknowledged: stored
        await asyncio.to_thread(fake_llm.wait_for_requests, 1, 10.0)
        first.kill_9()
        await client.ws.close()
    finally:
        first.stop()

    fake_llm.reset()
    fake_llm.reply("the answer, after the crash")
    second = start_roost_run(home)
    try:
        client = await Client.connect(second.ws_url)  # same client id: what waited for it comes now
        [reply] = await client.replies(until_message=message_id)
        assert reply["text"] == "the answer, after the crash"
        await client.ws.close()

        client = await Client.connect(second.ws_url)  # and never again
        fresh = await client.send("anything else?")
        # One lane per client, in order: a repeat of the old reply would come first.
        later = await client.replies(until_message=fresh)
        assert [r["message_id"] for r in later] == [fresh]
        await client.ws.close()
        assert len(fake_llm.requests) == 2  # the re-run turn and the fresh one
    finally:
        second.stop()

    with sqlite3.connect(home / "roost.db") as db:
        users = db.execute(
            "select count(*) from messages where role = 'user' and text = 'a slow question'"
        ).fetchone()[0]
        statuses = db.execute(
            "select status from deliveries where envelope_id = ?", (message_id,)
        ).fetchall()
    assert users == 1  # the re-run continued the stored turn instead of storing it again
    assert statuses == [("delivered",)]


async def test_kill_9_twice_in_the_same_turn_stores_the_question_once_and_replies_once(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    home = _one_agent_home(fake_llm, write_config, tmp_path)
    processes: list[RoostRun] = []
    try:
        first = start_roost_run(home)
        processes.append(first)
        client = await Client.connect(first.ws_url)
        fake_llm.delay(60)  # the model call holds the turn open until the kill
        message_id = await client.send("the question asked once")
        await asyncio.to_thread(fake_llm.wait_for_requests, 1, 10.0)
        first.kill_9()
        await client.ws.close()

        fake_llm.reset()
        fake_llm.delay(60)  # the re-run's model call too: killed inside the same turn again
        second = start_roost_run(home)
        processes.append(second)
        await asyncio.to_thread(fake_llm.wait_for_requests, 1, 10.0)
        second.kill_9()

        fake_llm.reset()
        fake_llm.reply("the answer, after two crashes")
        third = start_roost_run(home)
        processes.append(third)
        client = await Client.connect(third.ws_url)
        [reply] = await client.replies(until_message=message_id)
        assert reply["text"] == "the answer, after two crashes"
        fresh = await client.send("anything else?")
        later = await client.replies(until_message=fresh)
        assert [r["message_id"] for r in later] == [fresh]  # the old reply never again
        await client.ws.close()
        recovered = fake_llm.requests[0].body["messages"]
        assert json.dumps(recovered).count("the question asked once") == 1
        assert third.stop() == 0
    finally:
        for process in processes:
            process.stop()

    with sqlite3.connect(home / "roost.db") as db:
        users = db.execute(
            "select count(*) from messages where role = 'user' and text = ?",
            ("the question asked once",),
        ).fetchone()[0]
        statuses = db.execute(
            "select status from deliveries where envelope_id = ?", (message_id,)
        ).fetchall()
    assert users == 1
    assert statuses == [("delivered",)]
