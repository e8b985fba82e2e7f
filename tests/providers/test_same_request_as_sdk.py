"""Each backend sends what the SDK's own streaming method would: path, headers and body.

The backends do not call ``messages.create`` / ``chat.completions.create`` (their
preparation copies the whole history first); the shared streaming call posts a body
already encoded, with the path and request options those methods use. These tests
pin that the shortcut changes nothing on the wire, for a history with text, tool
calls, tool results (one an error) and non-ASCII text: every header (so the length
too) and the JSON body are the same; only the order of the body's keys is the SDK's.
"""

from __future__ import annotations

from typing import Any

from roost.providers.anthropic_backend import build_request_params as anthropic_params
from roost.providers.base import Message, ModelRequest, ToolCall
from roost.providers.factory import create_provider
from roost.providers.openai_backend import build_request_params as openai_params
from tests.fakes.llm_server import FakeLLM, RecordedRequest
from tests.providers.support import API_KEY, TOOLS, make_request, provider_config

HISTORY = (
    Message("user", "lis « a.txt » — s'il te plaît"),
    Message(
        "assistant",
        "Je regarde.",
        tool_calls=(ToolCall("call_a", "read_file", '{"path": "a.txt"}'),),
    ),
    Message("tool", "contenu ünïcode", tool_call_id="call_a", tool_name="read_file"),
    Message("assistant", tool_calls=(ToolCall("call_b", "list_files", "{}"),)),
    Message("tool", "no such dir", tool_call_id="call_b", tool_name="list_files", is_error=True),
    Message("user", "merci"),
)


def _wire(recorded: RecordedRequest) -> tuple[str, dict[str, str], Any]:
    return recorded.path, recorded.headers, recorded.body


async def _through_backend(kind: str, fake_llm: FakeLLM, request: ModelRequest) -> RecordedRequest:
    backend = create_provider(kind, provider_config(kind, fake_llm))
    try:
        await backend.complete(request)
    finally:
        await backend.aclose()
    return fake_llm.last_request


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


async def test_anthropic_sends_what_messages_create_sends(fake_llm: FakeLLM) -> None:
    import anthropic

    request = make_request(*HISTORY, tools=TOOLS)
    ours = await _through_backend("anthropic", fake_llm, request)
    client = anthropic.AsyncAnthropic(
        api_key=API_KEY, base_url=fake_llm.url, max_retries=0, timeout=5.0
    )
    try:
        await _drain(await client.messages.create(**anthropic_params(request), stream=True))
    finally:
        await client.close()
    assert _wire(ours) == _wire(fake_llm.last_request)


async def test_openai_sends_what_chat_completions_create_sends(fake_llm: FakeLLM) -> None:
    import openai

    request = make_request(*HISTORY, tools=TOOLS, temperature=0.5)
    ours = await _through_backend("openai", fake_llm, request)
    client = openai.AsyncOpenAI(
        api_key=API_KEY, base_url=fake_llm.openai_url, max_retries=0, timeout=5.0
    )
    params = openai_params(request, base_url=fake_llm.openai_url)
    try:
        stream = await client.chat.completions.create(
            **params, stream=True, stream_options={"include_usage": True}
        )
        await _drain(stream)
    finally:
        await client.close()
    assert _wire(ours) == _wire(fake_llm.last_request)
