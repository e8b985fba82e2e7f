"""Every WebSocket method, and malformed frames answered without closing the connection."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.llm_server import FakeLLM
from tests.gateway.conftest import Gateway, WsClient


async def chat(client: WsClient, agent: str, text: str, session: str = "main") -> dict[str, Any]:
    """Send a message and return the data of its chat.reply / chat.error event."""
    sent = await client.result("chat.send", {"agent": agent, "text": text, "session": session})
    while True:
        event = await client.event("chat.reply", "chat.error")
        if event["data"]["message_id"] == sent["message_id"]:
            data: dict[str, Any] = event["data"]
            return data


async def test_health_and_agents(gateway: Gateway) -> None:
    client = await gateway.client("me")
    assert client.hello == {"client": "me", "version": "0.1.0", "agents": ["assistant", "coder"]}
    health = await client.result("health")
    assert health["status"] == "ok" and health["uptime_s"] >= 0
    assert health["components"]["gateway"] == {
        "state": "ok",
        "url": gateway.http_url,
        "connections": 1,
    }
    agents = (await client.result("agents.list"))["agents"]
    assert [(a["name"], a["model"]) for a in agents] == [
        ("assistant", "claude/claude-haiku-4-5"),
        ("coder", "gpt/gpt-5-mini"),
    ]
    assert agents[1]["tools"] == ["read_file", "write_file", "list_files"]
    assert agents[0]["busy_sessions"] == 0 and agents[0]["queued"] == 0
    await client.close()


async def test_sessions_usage_and_cancel(gateway: Gateway, fake_llm: FakeLLM) -> None:
    client = await gateway.client()
    fake_llm.reply("first answer")
    assert (await chat(client, "assistant", "first", "notes"))["text"] == "first answer"
    await chat(client, "assistant", "second", "notes")
    sessions = (await client.result("sessions.list", {"agent": "assistant"}))["sessions"]
    assert [(s["key"], s["messages"]) for s in sessions] == [("notes", 4)]
    assert sessions[0]["updated_at"].startswith("20")
    history = await client.result("sessions.history", {"agent": "assistant", "session": "notes"})
    assert [(m["role"], m["text"]) for m in history["messages"]] == [
        ("user", "first"),
        ("assistant", "first answer"),
        ("user", "second"),
        ("assistant", "echo: second"),
    ]
    assert history["messages"][0] == {
        "role": "user",
        "text": "first",
        "tool_calls": [],
        "tool_call_id": None,
        "tool_name": None,
        "is_error": False,
    }
    last = await client.result(
        "sessions.history", {"agent": "assistant", "session": "notes", "limit": 1}
    )
    assert [m["text"] for m in last["messages"]] == ["echo: second"]
    missing = await client.call("sessions.history", {"agent": "assistant", "session": "nope"})
    assert missing["error"]["code"] == "not_found"

    usage = await client.result("usage.summary")
    assert usage["total"]["calls"] == 2 and usage["by_agent"]["assistant"]["calls"] == 2
    assert list(usage["by_model"]) == ["claude/claude-haiku-4-5"]
    assert usage["by"] == "agent" and usage["groups"] == usage["by_agent"]
    assert usage["total"]["cost"].startswith("$") and "projected_month_usd" in usage["projection"]
    by_role = await client.result("usage.summary", {"by": "role", "since": "7d"})
    assert by_role["groups"]["routine"]["calls"] == 2
    bad_by = await client.call("usage.summary", {"by": "colour"})
    assert bad_by["error"]["code"] == "bad_request"
    future = await client.result("usage.summary", {"since": "2999-01-01"})
    assert future["total"]["calls"] == 0 and future["since"].startswith("2999-01-01")
    bad_since = await client.call("usage.summary", {"since": "yesterday"})
    assert bad_since["error"]["code"] == "bad_request" and "since" in bad_since["error"]["message"]

    idle = {"agent": "assistant", "session": "notes"}
    assert await client.result("chat.cancel", idle) == {"cancelled": False}
    assert await client.result("sessions.reset", idle) == {"reset": True}
    gone = await client.call("sessions.history", idle)  # a reset session no longer exists
    assert gone["error"]["code"] == "not_found"
    assert await client.result("sessions.reset", idle) == {"reset": False}
    assert await client.result("sessions.reset", {**idle, "session": "never"}) == {"reset": False}
    await client.close()


async def test_unknown_agents_are_named(gateway: Gateway) -> None:
    client = await gateway.client()
    for method, params in [
        ("chat.send", {"agent": "ghost", "text": "boo"}),
        ("chat.cancel", {"agent": "ghost", "session": "main"}),
        ("sessions.list", {"agent": "ghost"}),
        ("sessions.history", {"agent": "ghost", "session": "main"}),
        ("sessions.reset", {"agent": "ghost", "session": "main"}),
    ]:
        error = (await client.call(method, params))["error"]
        assert error["code"] == "unknown_agent", method
        assert "ghost" in error["message"] and "assistant, coder" in error["message"]
    await client.close()


async def test_subscribe_and_unsubscribe(gateway: Gateway) -> None:
    client = await gateway.client()
    result = await client.result("subscribe", {"topics": ["agents", "session:coder:x"]})
    assert result == {"topics": ["agents", "session:coder:x"]}
    result = await client.result("unsubscribe", {"topics": ["agents"]})
    assert result == {"topics": ["session:coder:x"]}
    for topics in (["everything"], ["session:coder"], []):
        error = (await client.call("subscribe", {"topics": topics}))["error"]
        assert error["code"] == "bad_request" and "params.topics" in error["message"]
    await client.close()


async def expect_error(client: WsClient, frame: str | bytes, code: str, request_id: Any) -> str:
    await client.send_raw(frame)
    response = await client.response()
    assert response["ok"] is False and response["id"] == request_id, response
    assert response["error"]["code"] == code, response
    message: str = response["error"]["message"]
    return message


def req(request_id: Any, method: str, **extra: Any) -> str:
    return json.dumps({"type": "req", "id": request_id, "method": method, **extra})


async def test_malformed_frames_get_errors_and_the_connection_stays(gateway: Gateway) -> None:
    client = await gateway.client()
    await expect_error(client, "not json {", "bad_json", None)
    await expect_error(client, "[1, 2]", "bad_json", None)
    assert "id" in await expect_error(
        client, '{"type": "req", "method": "health"}', "bad_request", None
    )
    missing_type = json.dumps({"id": 7, "method": "health"})
    assert "type" in await expect_error(client, missing_type, "bad_request", 7)
    missing_method = json.dumps({"type": "req", "id": "a"})
    assert "method" in await expect_error(client, missing_method, "bad_request", "a")
    unknown = await expect_error(client, req("b", "chat.shout"), "unknown_method", "b")
    assert "chat.shout" in unknown and "chat.send" in unknown and "sessions.history" in unknown
    no_text = req("c", "chat.send", params={"agent": "assistant"})
    assert "params.text" in await expect_error(client, no_text, "bad_request", "c")
    bad_limit = req("d", "sessions.history", params={"agent": "a", "session": "s", "limit": 0})
    assert "params.limit" in await expect_error(client, bad_limit, "bad_request", "d")
    extra = req("e", "health", params={"verbose": True})
    assert "params.verbose" in await expect_error(client, extra, "bad_request", "e")
    not_object = req("f", "health", params=[1])
    assert "params" in await expect_error(client, not_object, "bad_request", "f")
    huge = req("g", "chat.send", params={"agent": "assistant", "text": "x" * 1_100_000})
    assert "1048576" in await expect_error(client, huge, "too_large", None)
    assert "binary" in await expect_error(client, b"\x00\x01", "bad_request", None)
    assert (await client.call("health"))["ok"] is True
    assert not [e for e in client.backlog if e["type"] == "res"]
    await client.close()
