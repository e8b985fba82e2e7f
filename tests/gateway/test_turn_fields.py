"""Every surface shows a finished turn with the same fields (``TurnResult.as_dict``).

The WebSocket reply (``chat.reply`` / ``chat.error``), the ``turn.finished`` event and the
REST reply once built their JSON each on their own and drifted apart (REST had no cache
tokens, the reply no turn id). ``roost ask --json`` is held to the same fields in
``tests/client/test_chat_and_ask.py``.
"""

from __future__ import annotations

from typing import Any

from roost.agents.turn import TURN_FIELDS
from roost.store.turn_status import TurnStatus
from tests.fakes.llm_server import FakeLLM, FakeUsage
from tests.gateway.conftest import Gateway
from tests.gateway.test_ws_methods import chat

USAGE = FakeUsage(100, 20, cache_read=50, cache_write=7)
TOKENS = {
    "input_tokens": 100,
    "output_tokens": 20,
    "cache_read_tokens": 50,
    "cache_write_tokens": 7,
}


def _turn_part(data: dict[str, Any]) -> dict[str, Any]:
    return {key: data[key] for key in TURN_FIELDS if key in data}


async def test_reply_event_and_rest_carry_the_same_turn_fields(
    gateway: Gateway, fake_llm: FakeLLM
) -> None:
    watcher = await gateway.client("watcher")
    await watcher.result("subscribe", {"topics": ["agents"]})
    talker = await gateway.client("talker")
    fake_llm.reply("over the socket", usage=USAGE)
    reply = await chat(talker, "assistant", "hello", "fields")
    finished = (await watcher.event("turn.finished"))["data"]
    fake_llm.reply("over REST", usage=USAGE)
    async with gateway.http() as http:
        response = await http.post(
            "/api/agents/assistant/messages", json={"text": "hello", "session": "fields-rest"}
        )
    assert response.status_code == 200, response.text
    rest = response.json()

    assert set(TURN_FIELDS) <= set(reply) and set(TURN_FIELDS) <= set(rest)
    # The event leaves the text out (every watcher of `agents` gets every turn's end).
    assert set(finished) >= set(TURN_FIELDS) - {"text"} and "text" not in finished
    assert _turn_part(finished) == {k: v for k, v in _turn_part(reply).items() if k != "text"}
    assert finished["message_id"] == reply["message_id"]
    for turn in (reply, rest):
        assert {key: turn[key] for key in TOKENS} == TOKENS
        assert turn["status"] == "ok" and turn["rounds"] == 1 and turn["error"] is None
        assert isinstance(turn["turn_id"], int) and turn["message_id"] > 0
    assert rest["turn_id"] > reply["turn_id"]
    assert rest["cost_usd"] == reply["cost_usd"] > 0
    for client in (watcher, talker):
        await client.close()


async def test_a_failed_turn_carries_the_same_fields(gateway: Gateway, fake_llm: FakeLLM) -> None:
    fake_llm.fail(401, "invalid x-api-key", times=2)
    client = await gateway.client("failing")
    failed = await chat(client, "assistant", "hi", "fields-failed")
    async with gateway.http() as http:
        response = await http.post(
            "/api/agents/assistant/messages", json={"text": "hi", "session": "fields-failed-rest"}
        )
    rest = response.json()
    assert set(TURN_FIELDS) <= set(failed) and set(TURN_FIELDS) <= set(rest)
    for turn in (failed, rest):
        assert TurnStatus(turn["status"]) is TurnStatus.ERROR and "HTTP 401" in turn["error"]
    await client.close()


async def test_rest_reports_the_cache_tokens_the_api_reported(
    gateway: Gateway, fake_llm: FakeLLM
) -> None:
    # No scripted usage: the fake's simulated prompt cache decides what is cached.
    long_text = "A long note the owner pasted, so the prefix is worth caching. " * 350
    path = "/api/agents/assistant/messages"
    async with gateway.http() as http:
        first = (await http.post(path, json={"text": long_text, "session": "rc"})).json()
        second = (await http.post(path, json={"text": "and then?", "session": "rc"})).json()
    assert first["cache_write_tokens"] > 0 and first["cache_read_tokens"] == 0
    assert second["cache_read_tokens"] >= first["cache_write_tokens"] > 0
    sent = fake_llm.last_request.usage_sent
    assert sent is not None
    assert (second["cache_read_tokens"], second["cache_write_tokens"]) == (
        sent.cache_read,
        sent.cache_write,
    )
