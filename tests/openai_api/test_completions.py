"""The official `openai` SDK against a running gateway: models, answers whole and streamed."""

from __future__ import annotations

import asyncio

import pytest

from roost.openai_api import turns
from tests.fakes.llm_server import FakeLLM, FakeUsage
from tests.openai_api.conftest import SDK_TIMEOUT, Roost, RoostFactory, sent_messages, sent_system


async def test_models_lists_one_model_per_agent(roost: Roost) -> None:
    async with roost.openai() as client:
        models = await client.models.list()
        coder = await client.models.retrieve("coder")
    assert [model.id for model in models.data] == ["assistant", "coder"]
    assert {model.owned_by for model in models.data} == {"roost"}
    assert coder.id == "coder" and coder.object == "model"


async def test_a_completion_is_the_agents_turn_with_its_usage(
    roost: Roost, fake_llm: FakeLLM
) -> None:
    fake_llm.reply("Hello from Roost", usage=FakeUsage(input_tokens=12, output_tokens=4))
    async with roost.openai() as client:
        completion = await client.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": "hi there"}]
        )
    assert completion.object == "chat.completion" and completion.model == "assistant"
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.message.content == "Hello from Roost"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 4)
    assert completion.usage.total_tokens == 16
    # The agent answered with its own system prompt, to the user's text.
    assert sent_system(fake_llm).startswith("You are a test assistant.")
    assert sent_messages(fake_llm) == [("user", "hi there")]


async def test_usage_counts_every_model_call_of_the_turn_tools_included(
    roost: Roost, fake_llm: FakeLLM
) -> None:
    fake_llm.tool_call("list_files", {"path": "."}, usage=FakeUsage(100, 10, cache_read=50))
    fake_llm.reply("There are no files", usage=FakeUsage(200, 20))
    async with roost.openai() as client:
        completion = await client.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": "what files?"}]
        )
    assert completion.choices[0].message.content == "There are no files"
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == 100 + 50 + 200 and usage.completion_tokens == 30
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 50
    async with roost.http() as http:
        ledger = (await http.get("/api/usage")).json()["total"]
    assert ledger["input_tokens"] + ledger["cache_read_tokens"] == usage.prompt_tokens
    assert ledger["output_tokens"] == usage.completion_tokens


async def test_a_streamed_completion_comes_as_chunks_then_usage(
    roost: Roost, fake_llm: FakeLLM
) -> None:
    fake_llm.reply("one two three four", usage=FakeUsage(input_tokens=9, output_tokens=5))
    async with roost.openai() as client:
        stream = await client.chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "count"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    finished = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finished] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (9, 5)
    assert all(chunk.usage is None for chunk in chunks[:-1])


async def test_the_stream_is_server_sent_events_ending_with_done(
    roost: Roost, fake_llm: FakeLLM
) -> None:
    fake_llm.reply("plain")
    body = {"model": "assistant", "messages": [{"role": "user", "content": "x"}], "stream": True}
    async with (
        roost.http() as http,
        http.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in response.aiter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    assert '"usage"' not in "".join(lines)  # not asked for


async def test_the_envelope_names_the_openai_channel_and_client(
    roost: Roost, fake_llm: FakeLLM
) -> None:
    watcher = await roost.ws()
    await watcher.result("subscribe", {"topics": ["traffic"]})
    fake_llm.reply("ok")
    async with roost.openai(**{"X-Roost-Client": "open-webui"}) as client:
        await client.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": "hello"}]
        )
    message = await watcher.event("traffic.message")
    await watcher.close()
    assert message["data"]["from"] == "openai:open-webui"
    assert message["data"]["to"] == "agent:assistant"
    assert message["data"]["session"].startswith("openai:open-webui:")


async def test_a_client_that_leaves_mid_stream_loses_nothing(
    roost: Roost, fake_llm: FakeLLM
) -> None:
    fake_llm.delay(0.3)  # the model is slow: the client gives up before it answers
    fake_llm.reply("the answer nobody waited for")
    body = {"model": "assistant", "messages": [{"role": "user", "content": "q"}], "stream": True}
    async with (
        roost.http() as http,
        http.stream(
            "POST", "/v1/chat/completions", json=body, headers={"X-Roost-Session": "left"}
        ) as response,
    ):
        first = await anext(response.aiter_lines())
        assert first.startswith("data: ")
    texts: list[str] = []
    async with asyncio.timeout(SDK_TIMEOUT):
        while "the answer nobody waited for" not in texts:
            texts = [m["text"] for m in await roost.history("left")]
            await asyncio.sleep(0.02)
    assert texts == ["q", "the answer nobody waited for"]


async def test_roost_stopping_mid_turn_answers_503_and_keeps_the_message(
    start_roost: RoostFactory, fake_llm: FakeLLM
) -> None:
    roost = await start_roost()
    fake_llm.delay(30)  # the model never answers before Roost stops
    body = {"model": "assistant", "messages": [{"role": "user", "content": "slow"}]}
    async with roost.http() as http:
        waiting = asyncio.ensure_future(
            http.post("/v1/chat/completions", json=body, headers={"X-Roost-Session": "s"})
        )
        await asyncio.to_thread(fake_llm.wait_for_requests, 1, SDK_TIMEOUT)
        await roost.app.stop(grace_s=0.1)
        response = await waiting
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "shutting_down"
    assert response.json()["error"]["type"] == "server_error"
    fake_llm.reset()
    fake_llm.reply("answered after the restart")
    again = await start_roost()  # the same home: the stored message runs again
    texts: list[str] = []
    async with asyncio.timeout(SDK_TIMEOUT):
        while len(texts) < 2:
            texts = [m["text"] for m in await again.history("s")]
            await asyncio.sleep(0.02)
    assert texts == ["slow", "answered after the restart"]


async def test_a_silent_turn_keeps_the_stream_alive(
    roost: Roost, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turns, "KEEPALIVE_S", 0.05)
    fake_llm.delay(0.5)  # the model (or a tool) takes its time
    fake_llm.reply("at last")
    body = {"model": "assistant", "messages": [{"role": "user", "content": "x"}], "stream": True}
    async with (
        roost.http() as http,
        http.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        lines = [line async for line in response.aiter_lines() if line]
    assert ": keep-alive" in lines
    end = next(i for i, line in enumerate(lines) if '"finish_reason":"stop"' in line)
    assert lines.index(": keep-alive") < end
    assert lines[-1] == "data: [DONE]"
