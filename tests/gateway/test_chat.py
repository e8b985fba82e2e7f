"""Chat over the WebSocket: streamed events, tools, errors, cancel, many clients at once."""

from __future__ import annotations

import asyncio
import dataclasses

from roost.config.settings import Settings
from tests.fakes.llm_server import FakeLLM
from tests.gateway.conftest import Gateway, GatewayFactory, WsClient, wait_for
from tests.gateway.test_ws_methods import chat


async def test_deltas_stream_then_the_reply_arrives(gateway: Gateway, fake_llm: FakeLLM) -> None:
    client = await gateway.client("phone")
    text = "The quick brown fox jumps over the lazy dog, twice."
    fake_llm.reply(text)
    sent = await client.result("chat.send", {"agent": "assistant", "text": "tell me"})
    assert sent == {"message_id": sent["message_id"], "session": "main"}
    events = await client.events_until("chat.reply", "chat.error")
    names = [e["event"] for e in events]
    assert names[-1] == "chat.reply" and set(names[:-1]) == {"chat.delta"} and len(names) > 2
    deltas = [e["data"] for e in events[:-1]]
    assert "".join(d["text"] for d in deltas) == text
    assert {(d["agent"], d["session"], d["message_id"]) for d in deltas} == {
        ("assistant", "main", sent["message_id"])
    }
    reply = events[-1]["data"]
    assert reply["text"] == text and reply["status"] == "ok"
    assert (reply["agent"], reply["session"], reply["message_id"]) == (
        "assistant",
        "main",
        sent["message_id"],
    )
    assert reply["input_tokens"] > 0 and reply["output_tokens"] > 0
    assert reply["cost_usd"] > 0 and reply["duration_ms"] >= 0 and reply["delivery_id"] > 0
    await client.close()


async def test_tool_calls_are_reported(gateway: Gateway, fake_llm: FakeLLM) -> None:
    client = await gateway.client()
    fake_llm.tool_call("write_file", {"path": "a.txt", "content": "hi"}, text="Writing.")
    fake_llm.reply("Done.")
    await client.result("chat.send", {"agent": "coder", "text": "write it", "session": "t"})
    events = await client.events_until("chat.reply", "chat.error")
    tools = [e["data"] for e in events if e["event"] == "chat.tool"]
    assert [(t["phase"], t["tool"]) for t in tools] == [
        ("started", "write_file"),
        ("finished", "write_file"),
    ]
    assert tools[0]["call_id"] == tools[1]["call_id"] and tools[1]["is_error"] is False
    assert "a.txt" in tools[0]["summary"]
    names = [e["event"] for e in events]
    first_tool = names.index("chat.tool")
    assert "chat.delta" in names[:first_tool] and "chat.delta" in names[first_tool + 2 :]
    assert events[-1]["event"] == "chat.reply" and events[-1]["data"]["text"] == "Done."
    await client.close()


async def test_a_failed_turn_ends_with_chat_error(gateway: Gateway, fake_llm: FakeLLM) -> None:
    client = await gateway.client()
    fake_llm.fail(400, "bad request upstream")
    error = await chat(client, "assistant", "hi", "failing")
    assert error["status"] == "error" and error["text"].startswith("The model call failed")
    assert error["error"] and error["message_id"] > 0
    await client.close()


async def test_cancel_interrupts_a_slow_turn(gateway: Gateway, fake_llm: FakeLLM) -> None:
    client = await gateway.client()
    fake_llm.delay(5)
    sent = await client.result("chat.send", {"agent": "assistant", "text": "slow", "session": "s"})
    await wait_for(lambda: len(fake_llm.requests) == 1)
    assert await client.result("chat.cancel", {"agent": "assistant", "session": "s"}) == {
        "cancelled": True
    }
    event = await client.event("chat.reply", "chat.error")
    assert event["event"] == "chat.error"
    assert event["data"]["status"] == "interrupted"
    assert event["data"]["message_id"] == sent["message_id"]
    await client.close()


async def test_fifty_clients_chat_at_once(gateway: Gateway) -> None:
    async def one(index: int) -> tuple[str, str]:
        client = await gateway.client(f"client-{index}")
        reply = await chat(client, "assistant", f"hello {index}", f"s{index}")
        await client.close()
        return reply["session"], reply["text"]

    results = await asyncio.gather(*(one(i) for i in range(50)))
    assert results == [(f"s{i}", f"echo: hello {i}") for i in range(50)]


async def test_subscribers_see_the_traffic(gateway: Gateway) -> None:
    watcher = await gateway.client("watcher")
    await watcher.result("subscribe", {"topics": ["traffic", "agents"]})
    talker = await gateway.client("talker")
    reply = await chat(talker, "assistant", "hello world", "w")
    message = (await watcher.event("traffic.message"))["data"]
    assert message == {
        "id": reply["message_id"],
        "from": "ws:talker",
        "to": "agent:assistant",
        "session": "w",
        "text": "hello world",
        "depth": 0,
        "reply_to": "ws:talker",
    }
    started = (await watcher.event("turn.started"))["data"]
    assert started["message_id"] == reply["message_id"] and started["from"] == "ws:talker"
    finished = (await watcher.event("turn.finished"))["data"]
    assert finished["status"] == "ok" and finished["agent"] == "assistant"
    delivery = (await watcher.event("traffic.delivery"))["data"]
    assert delivery["to"] == "ws:talker" and delivery["status"] == "delivered"
    assert delivery["message_id"] == reply["message_id"]
    for client in (watcher, talker):
        await client.close()


def _with_send_message(settings: Settings) -> Settings:
    assistant = settings.agents["assistant"]
    tools = (*assistant.tools, "send_message")
    agents = {**settings.agents, "assistant": dataclasses.replace(assistant, tools=tools)}
    return dataclasses.replace(settings, agents=agents)


async def test_an_agent_can_message_a_client(
    start_gateway: GatewayFactory, fake_llm: FakeLLM
) -> None:
    gateway = await start_gateway(_with_send_message)
    listener = await gateway.client("listener")
    sender = await gateway.client("sender")
    fake_llm.tool_call("send_message", {"to": "ws:listener", "text": "psst, listener"})
    fake_llm.reply("told them")
    assert (await chat(sender, "assistant", "tell listener"))["text"] == "told them"
    message = await listener.event("chat.message")
    assert message["data"]["from"] == "agent:assistant"
    assert message["data"]["text"] == "psst, listener" and message["data"]["delivery_id"] > 0
    for client in (listener, sender):
        await client.close()


async def test_two_connections_of_one_client_both_get_the_reply(gateway: Gateway) -> None:
    first = await gateway.client("twin")
    second = await gateway.client("twin")
    reply = await chat(first, "assistant", "for both")
    mirrored = await second.event("chat.reply")
    assert mirrored["data"] == reply
    for client in (first, second):
        await client.close()


async def test_chat_send_is_acknowledged_before_the_turn_ends(
    gateway: Gateway, fake_llm: FakeLLM
) -> None:
    client: WsClient = await gateway.client()
    fake_llm.delay(1)
    sent = await client.result("chat.send", {"agent": "assistant", "text": "take your time"})
    assert sent["message_id"] > 0
    assert not [e for e in client.backlog if e["event"] in ("chat.reply", "chat.error")]
    assert (await client.event("chat.reply"))["data"]["text"] == "echo: take your time"
    await client.close()
