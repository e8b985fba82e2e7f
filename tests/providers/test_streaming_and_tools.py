"""Both backends through the real SDKs: import cost, streaming, tools and message translation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from roost.config.schema import ProviderConfig
from roost.providers.anthropic_backend import AnthropicProvider
from roost.providers.base import Message, Provider, ToolCall
from roost.providers.factory import create_provider
from roost.providers.openai_backend import OpenAIProvider
from tests.fakes.llm_server import FakeLLM
from tests.providers.support import API_KEY, TOOLS, Collector, make_request, provider_config

# --------------------------------------------------------------------- import cost


def test_importing_backends_does_not_import_sdks() -> None:
    code = (
        "import roost.providers.factory, sys; "
        "assert 'anthropic' not in sys.modules and 'openai' not in sys.modules, "
        "[m for m in sys.modules if m.startswith(('anthropic', 'openai'))]"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_factory_picks_backend_by_type() -> None:
    claude = create_provider("claude", ProviderConfig(type="anthropic"))
    gpt = create_provider("local", ProviderConfig(type="openai", base_url="http://127.0.0.1:1/v1"))
    assert isinstance(claude, AnthropicProvider)
    assert (claude.name, claude.kind) == ("claude", "anthropic")
    assert isinstance(gpt, OpenAIProvider)
    assert (gpt.name, gpt.kind) == ("local", "openai")


async def test_aclose_without_any_call(kind: str) -> None:
    backend = create_provider("p", ProviderConfig(type=kind))
    await backend.aclose()
    await backend.aclose()


# --------------------------------------------------------------------- streaming


async def test_streams_text_deltas_in_order(provider: Provider, fake_llm: FakeLLM) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    fake_llm.reply(text)
    sink = Collector()
    response = await provider.complete(make_request(), sink)
    assert response.text == text
    assert len(sink.deltas) > 1
    assert "".join(sink.deltas) == text
    assert response.tool_calls == ()
    assert response.model == "test-model"
    assert response.stop_reason in {"end_turn", "stop"}
    assert fake_llm.last_request.stream is True


async def test_default_answer_echoes_last_user_text(provider: Provider, fake_llm: FakeLLM) -> None:
    response = await provider.complete(make_request(Message("user", "ping 42")))
    assert response.text == "echo: ping 42"


async def test_first_request_body_is_compact(
    provider: Provider, fake_llm: FakeLLM, kind: str
) -> None:
    await provider.complete(make_request(Message("user", "hello"), tools=TOOLS))
    body = fake_llm.last_request.body
    assert len(fake_llm.last_request.raw_body) <= 4000
    assert "temperature" not in body
    if kind == "anthropic":
        assert set(body) == {"model", "max_tokens", "messages", "system", "tools", "stream"}
    else:
        assert set(body) == {
            "model",
            "messages",
            "max_tokens",
            "tools",
            "stream",
            "stream_options",
        }
        assert body["stream_options"] == {"include_usage": True}


async def test_no_tools_and_no_temperature_are_omitted(
    provider: Provider, fake_llm: FakeLLM
) -> None:
    await provider.complete(make_request(system=""))
    body = fake_llm.last_request.body
    assert "tools" not in body
    assert "temperature" not in body
    assert "system" not in body
    assert all(m["role"] != "system" for m in body["messages"])


async def test_temperature_sent_to_openai_only(
    provider: Provider, fake_llm: FakeLLM, kind: str
) -> None:
    await provider.complete(make_request(temperature=0.3))
    body = fake_llm.last_request.body
    if kind == "openai":
        assert body["temperature"] == 0.3
    else:  # API version 2026-10-21 rejects sampling parameters
        assert "temperature" not in body


# --------------------------------------------------------------------- tools


async def test_tool_call_round(provider: Provider, fake_llm: FakeLLM, kind: str) -> None:
    fake_llm.tool_call("read_file", {"path": "notes/todo.txt"}, text="Let me look.", call_id="c1")
    sink = Collector()
    response = await provider.complete(make_request(tools=TOOLS), sink)

    assert response.text == "Let me look."
    assert "".join(sink.deltas) == "Let me look."
    assert response.tool_calls == (
        ToolCall(id="c1", name="read_file", arguments_json=json.dumps({"path": "notes/todo.txt"})),
    )
    assert response.tool_calls[0].arguments() == {"path": "notes/todo.txt"}
    assert response.stop_reason == ("tool_use" if kind == "anthropic" else "tool_calls")

    tools = fake_llm.last_request.body["tools"]
    if kind == "anthropic":
        assert tools[0] == {
            "name": "read_file",
            "description": "Read a text file from the workspace.",
            "input_schema": TOOLS[0].input_schema,
        }
    else:
        assert tools[0] == {
            "type": "function",
            "function": {
                "name": "read_file",
                "description": "Read a text file from the workspace.",
                "parameters": TOOLS[0].input_schema,
            },
        }
    assert [t["name"] if kind == "anthropic" else t["function"]["name"] for t in tools] == [
        "read_file",
        "write_file",
        "list_files",
    ]


async def test_tool_call_without_text(provider: Provider, fake_llm: FakeLLM) -> None:
    fake_llm.tool_call("list_files", {})
    sink = Collector()
    response = await provider.complete(make_request(tools=TOOLS), sink)
    assert response.text == ""
    assert sink.deltas == []
    assert len(response.tool_calls) == 1
    assert response.tool_calls[0].name == "list_files"
    assert response.tool_calls[0].arguments() == {}
    assert response.tool_calls[0].id


FOLLOW_UP = (
    Message("user", "read both files"),
    Message(
        "assistant",
        "Reading.",
        tool_calls=(
            ToolCall("call_a", "read_file", '{"path": "a.txt"}'),
            ToolCall("call_b", "read_file", '{"path": "b.txt"}'),
        ),
    ),
    Message("tool", "contents of a", tool_call_id="call_a", tool_name="read_file"),
    Message("tool", "no such file", tool_call_id="call_b", tool_name="read_file", is_error=True),
    Message("assistant", tool_calls=(ToolCall("call_c", "list_files", "{}"),)),
    Message("tool", "a.txt", tool_call_id="call_c", tool_name="list_files"),
    Message("user", "thanks"),
)


async def test_follow_up_translation_anthropic(fake_llm: FakeLLM) -> None:
    backend = AnthropicProvider("claude", provider_config("anthropic", fake_llm))
    try:
        await backend.complete(make_request(*FOLLOW_UP, tools=TOOLS))
    finally:
        await backend.aclose()
    body = fake_llm.last_request.body
    assert body["system"] == [
        {"type": "text", "text": "You are a test.", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["messages"] == [
        {"role": "user", "content": "read both files"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Reading."},
                {
                    "type": "tool_use",
                    "id": "call_a",
                    "name": "read_file",
                    "input": {"path": "a.txt"},
                },
                {
                    "type": "tool_use",
                    "id": "call_b",
                    "name": "read_file",
                    "input": {"path": "b.txt"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_a", "content": "contents of a"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_b",
                    "content": "no such file",
                    "is_error": True,
                    # The previous call's newest message: its cache entry is read back.
                    "cache_control": {"type": "ephemeral"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "call_c", "name": "list_files", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "call_c", "content": "a.txt"}],
        },
        {
            # The newest message: written to the cache for the next call.
            "role": "user",
            "content": [{"type": "text", "text": "thanks", "cache_control": {"type": "ephemeral"}}],
        },
    ]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert all("cache_control" not in tool for tool in body["tools"][:-1])


async def test_follow_up_translation_openai(fake_llm: FakeLLM) -> None:
    backend = OpenAIProvider("gpt", provider_config("openai", fake_llm))
    try:
        await backend.complete(make_request(*FOLLOW_UP, tools=TOOLS))
    finally:
        await backend.aclose()
    body = fake_llm.last_request.body
    assert body["messages"] == [
        {"role": "system", "content": "You are a test."},
        {"role": "user", "content": "read both files"},
        {
            "role": "assistant",
            "content": "Reading.",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "a.txt"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "b.txt"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "contents of a"},
        {"role": "tool", "tool_call_id": "call_b", "content": "no such file"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_c",
                    "type": "function",
                    "function": {"name": "list_files", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_c", "content": "a.txt"},
        {"role": "user", "content": "thanks"},
    ]


async def test_empty_answer_is_sent_back_as_a_valid_turn(
    provider: Provider, fake_llm: FakeLLM, kind: str
) -> None:
    # A model can answer with nothing (e.g. at max_tokens); that answer is kept in the
    # history, and the real APIs reject it sent back as an empty assistant turn.
    fake_llm.reply("")
    first = await provider.complete(make_request(Message("user", "write an essay")))
    assert (first.text, first.tool_calls) == ("", ())
    history = (
        Message("user", "write an essay"),
        Message("assistant", first.text, tool_calls=first.tool_calls),
        Message("user", "try again"),
    )
    await provider.complete(make_request(*history))
    messages = fake_llm.last_request.body["messages"]
    if kind == "anthropic":
        mark = {"cache_control": {"type": "ephemeral"}}  # previous call's newest, newest
        assert messages == [
            {"role": "user", "content": [{"type": "text", "text": "write an essay", **mark}]},
            {"role": "assistant", "content": [{"type": "text", "text": "(no content)"}]},
            {"role": "user", "content": [{"type": "text", "text": "try again", **mark}]},
        ]
    else:
        assert messages[1:] == [
            {"role": "user", "content": "write an essay"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "try again"},
        ]


async def test_anthropic_whitespace_only_text_is_not_sent(fake_llm: FakeLLM) -> None:
    backend = AnthropicProvider("claude", provider_config("anthropic", fake_llm))
    history = (
        Message("user", "list them"),
        Message("assistant", "\n", tool_calls=(ToolCall("call_a", "list_files", "{}"),)),
        Message("tool", "a.txt", tool_call_id="call_a", tool_name="list_files"),
        Message("assistant", " \n "),
        Message("user", "and now?"),
    )
    try:
        await backend.complete(make_request(*history, tools=TOOLS))
    finally:
        await backend.aclose()
    messages = fake_llm.last_request.body["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "call_a", "name": "list_files", "input": {}}],
    }
    assert messages[3] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "(no content)"}],
    }
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]


async def test_openai_invalid_tool_json_passed_through_raw(fake_llm: FakeLLM) -> None:
    backend = OpenAIProvider("gpt", provider_config("openai", fake_llm))
    fake_llm.tool_call("write_file", '{"path": "a.txt", "content": "unterminated')
    try:
        response = await backend.complete(make_request(tools=TOOLS))
    finally:
        await backend.aclose()
    (call,) = response.tool_calls
    assert call.name == "write_file"
    assert call.arguments_json == '{"path": "a.txt", "content": "unterminated'
    with pytest.raises(ValueError, match="not valid JSON"):
        call.arguments()


_IMPORTED_OFF_THE_LOOP = """
import asyncio, sys, threading
from roost.config.schema import ProviderConfig
from roost.providers.base import Message, ModelRequest
from roost.providers.factory import create_provider

importers = {}

class Watch:
    # Records which thread imports the SDK (then lets the normal finders do it).
    def find_spec(self, name, path=None, target=None):
        if name == KIND:
            importers.setdefault(name, threading.current_thread().name)
        return None

sys.meta_path.insert(0, Watch())
KIND, BASE_URL, KEY = sys.argv[1], sys.argv[2], sys.argv[3]

async def main():
    config = ProviderConfig(type=KIND, base_url=BASE_URL, api_key=KEY, max_retries=0)
    provider = create_provider("p", config)
    request = ModelRequest(model="m", system="s", messages=(Message("user", "hi"),))
    answers = await asyncio.gather(provider.complete(request), provider.complete(request))
    await provider.aclose()
    assert sorted(a.text for a in answers) == ["one", "two"], answers
    main_thread = threading.main_thread().name
    assert importers.get(KIND) not in (None, main_thread), importers
    print("ok", importers[KIND])

asyncio.run(main())
"""


def test_the_sdk_is_imported_off_the_event_loop(kind: str, fake_llm: FakeLLM) -> None:
    """The first call imports its SDK in a worker thread: on the event loop the import
    (about a second of CPU) would stall every other agent and the gateway."""
    fake_llm.reply("one")
    fake_llm.reply("two")
    base_url = fake_llm.url if kind == "anthropic" else fake_llm.openai_url
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTED_OFF_THE_LOOP, kind, base_url, API_KEY],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")
