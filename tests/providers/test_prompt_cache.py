"""Prompt caching through the real SDKs, against the fake's simulation of the documented rules.

Anthropic: breakpoints on the tools, the system prompt and the conversation (at most
four), each call reading what the previous one wrote; below the model's minimum
nothing is cached and nothing fails; entries expire after five idle minutes; five
breakpoints are refused. OpenAI: repeated prefixes come back as ``cached_tokens``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from roost.providers.anthropic_backend import AnthropicProvider
from roost.providers.base import Message, ModelRequest, Provider, ToolCall, Usage
from roost.providers.openai_backend import OpenAIProvider
from tests.fakes.llm_server import FakeLLM
from tests.providers.support import API_KEY, TOOLS, make_request, provider_config

LONG_SYSTEM = "You are a careful assistant. " * 200  # ~1,450 tokens by the fake's estimate


class ManualSeconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _marks(body: dict[str, Any]) -> int:
    return json.dumps(body).count('"cache_control"')


async def _conversation(provider: Provider, turns: int, system: str) -> list[Usage]:
    """``turns`` turns of a growing conversation, one tool round in every other turn."""
    history: list[Message] = []
    usages: list[Usage] = []
    for turn in range(turns):
        history.append(Message("user", f"turn {turn}: please note fact number {turn}. " * 8))
        if turn % 2:
            call = ToolCall(f"call_{turn}", "read_file", json.dumps({"path": f"{turn}.txt"}))
            response = await provider.complete(make_request(*history, tools=TOOLS, system=system))
            usages.append(response.usage)
            history.append(Message("assistant", "Reading.", tool_calls=(call,)))
            history.append(Message("tool", "contents " * 30, call.id, "read_file"))
        response = await provider.complete(make_request(*history, tools=TOOLS, system=system))
        usages.append(response.usage)
        history.append(Message("assistant", response.text))
    return usages


def _cache_share(usages: list[Usage]) -> float:
    read = sum(u.cache_read_tokens for u in usages)
    total = sum(u.input_tokens + u.cache_read_tokens + u.cache_write_tokens for u in usages)
    return read / total


async def test_anthropic_reads_most_input_from_the_cache(fake_llm: FakeLLM) -> None:
    backend = AnthropicProvider("claude", provider_config("anthropic", fake_llm))
    try:
        usages = await _conversation(backend, 20, LONG_SYSTEM)
    finally:
        await backend.aclose()
    assert all(_marks(r.body) <= 4 for r in fake_llm.requests)
    assert max(_marks(r.body) for r in fake_llm.requests) == 4
    assert usages[0].cache_read_tokens == 0 and usages[0].cache_write_tokens > 0
    # From the second call on, everything before the newest message was read back.
    assert all(u.cache_read_tokens > 0 for u in usages[1:])
    assert _cache_share(usages) >= 0.7


async def test_anthropic_without_prompt_cache_sends_no_marks(fake_llm: FakeLLM) -> None:
    config = provider_config("anthropic", fake_llm, prompt_cache=False)
    backend = AnthropicProvider("claude", config)
    try:
        usages = await _conversation(backend, 4, LONG_SYSTEM)
    finally:
        await backend.aclose()
    assert all(_marks(r.body) == 0 for r in fake_llm.requests)
    assert sum(u.cache_read_tokens + u.cache_write_tokens for u in usages) == 0


async def test_anthropic_below_the_minimum_caches_nothing_and_fails_nothing(
    fake_llm: FakeLLM,
) -> None:
    backend = AnthropicProvider("claude", provider_config("anthropic", fake_llm))
    try:
        usages = await _conversation(backend, 2, "Be brief.")  # far below 1,024 tokens
    finally:
        await backend.aclose()
    assert all(r.status == 200 and _marks(r.body) >= 2 for r in fake_llm.requests)
    assert all(u.cache_read_tokens == 0 and u.cache_write_tokens == 0 for u in usages)
    assert all(u.input_tokens > 0 for u in usages)


async def test_haiku_needs_a_longer_prefix_than_sonnet(fake_llm: FakeLLM) -> None:
    backend = AnthropicProvider("claude", provider_config("anthropic", fake_llm))
    system = "You are a careful assistant. " * 250  # ~1,800 tokens: over 1,024, under 2,048
    try:
        for model in ("claude-3-5-haiku-latest", "claude-sonnet-4-5"):
            request = ModelRequest(model, system, (Message("user", "hi"),))
            for _ in range(2):
                usage = (await backend.complete(request)).usage
            if "haiku" in model:
                assert usage.cache_read_tokens == 0
            else:
                assert usage.cache_read_tokens > 1024
    finally:
        await backend.aclose()


async def test_anthropic_cache_entries_expire_after_five_idle_minutes(fake_llm: FakeLLM) -> None:
    clock = fake_llm.clock = ManualSeconds()
    backend = AnthropicProvider("claude", provider_config("anthropic", fake_llm))
    request = make_request(system=LONG_SYSTEM)
    try:
        await backend.complete(request)
        clock.now += 299
        assert (await backend.complete(request)).usage.cache_read_tokens > 0
        clock.now += 299  # the read refreshed the entry
        assert (await backend.complete(request)).usage.cache_read_tokens > 0
        clock.now += 301
        usage = (await backend.complete(request)).usage
    finally:
        await backend.aclose()
    assert usage.cache_read_tokens == 0 and usage.cache_write_tokens > 0


async def test_the_fake_refuses_five_breakpoints_as_the_api_does(fake_llm: FakeLLM) -> None:
    import anthropic

    mark = {"cache_control": {"type": "ephemeral"}}
    client = anthropic.AsyncAnthropic(
        api_key=API_KEY, base_url=fake_llm.url, max_retries=0, timeout=5.0
    )
    content = [{"type": "text", "text": f"part {i}", **mark} for i in range(5)]
    try:
        with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks"):
            await client.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=10,
                messages=[{"role": "user", "content": content}],  # type: ignore[typeddict-item]
            )
    finally:
        await client.close()
    assert fake_llm.last_request.status == 400


async def test_openai_reports_cached_tokens_for_a_repeated_prefix(fake_llm: FakeLLM) -> None:
    backend = OpenAIProvider("gpt", provider_config("openai", fake_llm))
    try:
        usages = await _conversation(backend, 6, LONG_SYSTEM)
    finally:
        await backend.aclose()
    assert usages[0].cache_read_tokens == 0
    assert all(u.cache_read_tokens >= 1024 for u in usages[1:])
    assert all((u.cache_read_tokens - 1024) % 128 == 0 for u in usages[1:])
    assert all(u.cache_write_tokens == 0 for u in usages)
