"""Both model backends, through the real SDKs, against the fake LLM server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from roost.config.schema import ProviderConfig
from roost.providers.anthropic_backend import AnthropicProvider
from roost.providers.base import (
    Message,
    ModelRequest,
    Provider,
    ProviderError,
    ToolCall,
    ToolSpec,
    Usage,
)
from roost.providers.factory import create_provider
from roost.providers.openai_backend import OpenAIProvider
from roost.providers.openai_backend import build_request_params as openai_params
from tests.fakes.llm_server import FakeLLM, FakeUsage, running_fake_llm

API_KEY = "sk-test-SECRET-0123456789"
KINDS = ["anthropic", "openai"]

TOOLS = (
    ToolSpec(
        "read_file",
        "Read a text file from the workspace.",
        {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    ),
    ToolSpec(
        "write_file",
        "Write a text file in the workspace.",
        {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    ),
    ToolSpec(
        "list_files",
        "List files in a workspace directory.",
        {"type": "object", "properties": {"path": {"type": "string"}}},
    ),
)


def _request(*messages: Message, tools: tuple[ToolSpec, ...] = (), **kw: Any) -> ModelRequest:
    return ModelRequest(
        model="test-model",
        system=kw.pop("system", "You are a test."),
        messages=messages or (Message("user", "hello"),),
        tools=tools,
        **kw,
    )


def _config(kind: str, llm: FakeLLM, **kw: Any) -> ProviderConfig:
    base_url = llm.url if kind == "anthropic" else llm.openai_url
    settings: dict[str, Any] = {"api_key": API_KEY, "max_retries": 0, "timeout_s": 5.0}
    settings.update(kw)
    return ProviderConfig(type=kind, base_url=base_url, **settings)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    with running_fake_llm() as llm:
        yield llm


@pytest.fixture
def llm(server: FakeLLM) -> Iterator[FakeLLM]:
    server.reset()
    server.openai_stream_usage = True
    yield server
    server.reset()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def provider(kind: str, llm: FakeLLM) -> AsyncIterator[Provider]:
    backend = create_provider("claude" if kind == "anthropic" else "gpt", _config(kind, llm))
    yield backend
    await backend.aclose()


class Collector:
    def __init__(self) -> None:
        self.deltas: list[str] = []

    async def __call__(self, text: str) -> None:
        self.deltas.append(text)


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


async def test_streams_text_deltas_in_order(provider: Provider, llm: FakeLLM) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    llm.reply(text)
    sink = Collector()
    response = await provider.complete(_request(), sink)
    assert response.text == text
    assert len(sink.deltas) > 1
    assert "".join(sink.deltas) == text
    assert response.tool_calls == ()
    assert response.model == "test-model"
    assert response.stop_reason in {"end_turn", "stop"}
    assert llm.last_request.stream is True


async def test_default_answer_echoes_last_user_text(provider: Provider, llm: FakeLLM) -> None:
    response = await provider.complete(_request(Message("user", "ping 42")))
    assert response.text == "echo: ping 42"


async def test_first_request_body_is_compact(provider: Provider, llm: FakeLLM, kind: str) -> None:
    await provider.complete(_request(Message("user", "hello"), tools=TOOLS))
    body = llm.last_request.body
    assert len(llm.last_request.raw_body) <= 4000
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


async def test_no_tools_and_no_temperature_are_omitted(provider: Provider, llm: FakeLLM) -> None:
    await provider.complete(_request(system=""))
    body = llm.last_request.body
    assert "tools" not in body
    assert "temperature" not in body
    assert "system" not in body
    assert all(m["role"] != "system" for m in body["messages"])


async def test_temperature_sent_to_openai_only(provider: Provider, llm: FakeLLM, kind: str) -> None:
    await provider.complete(_request(temperature=0.3))
    body = llm.last_request.body
    if kind == "openai":
        assert body["temperature"] == 0.3
    else:  # API version 2026-10-21 rejects sampling parameters
        assert "temperature" not in body


# --------------------------------------------------------------------- tools


async def test_tool_call_round(provider: Provider, llm: FakeLLM, kind: str) -> None:
    llm.tool_call("read_file", {"path": "notes/todo.txt"}, text="Let me look.", call_id="c1")
    sink = Collector()
    response = await provider.complete(_request(tools=TOOLS), sink)

    assert response.text == "Let me look."
    assert "".join(sink.deltas) == "Let me look."
    assert response.tool_calls == (
        ToolCall(id="c1", name="read_file", arguments_json=json.dumps({"path": "notes/todo.txt"})),
    )
    assert response.tool_calls[0].arguments() == {"path": "notes/todo.txt"}
    assert response.stop_reason == ("tool_use" if kind == "anthropic" else "tool_calls")

    tools = llm.last_request.body["tools"]
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


async def test_tool_call_without_text(provider: Provider, llm: FakeLLM) -> None:
    llm.tool_call("list_files", {})
    sink = Collector()
    response = await provider.complete(_request(tools=TOOLS), sink)
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


async def test_follow_up_translation_anthropic(llm: FakeLLM) -> None:
    backend = AnthropicProvider("claude", _config("anthropic", llm))
    try:
        await backend.complete(_request(*FOLLOW_UP, tools=TOOLS))
    finally:
        await backend.aclose()
    body = llm.last_request.body
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
        {"role": "user", "content": "thanks"},
    ]


async def test_follow_up_translation_openai(llm: FakeLLM) -> None:
    backend = OpenAIProvider("gpt", _config("openai", llm))
    try:
        await backend.complete(_request(*FOLLOW_UP, tools=TOOLS))
    finally:
        await backend.aclose()
    body = llm.last_request.body
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


async def test_openai_invalid_tool_json_passed_through_raw(llm: FakeLLM) -> None:
    backend = OpenAIProvider("gpt", _config("openai", llm))
    llm.tool_call("write_file", '{"path": "a.txt", "content": "unterminated')
    try:
        response = await backend.complete(_request(tools=TOOLS))
    finally:
        await backend.aclose()
    (call,) = response.tool_calls
    assert call.name == "write_file"
    assert call.arguments_json == '{"path": "a.txt", "content": "unterminated'
    with pytest.raises(ValueError, match="not valid JSON"):
        call.arguments()


# --------------------------------------------------------------------- usage


async def test_usage_anthropic_includes_cache_read_and_write(llm: FakeLLM) -> None:
    backend = AnthropicProvider("claude", _config("anthropic", llm))
    llm.reply("cached answer", usage=FakeUsage(120, 17, cache_read=900, cache_write=300))
    try:
        response = await backend.complete(_request())
    finally:
        await backend.aclose()
    assert response.usage == Usage(
        input_tokens=120, output_tokens=17, cache_read_tokens=900, cache_write_tokens=300
    )


async def test_usage_openai_splits_cached_tokens(llm: FakeLLM) -> None:
    backend = OpenAIProvider("gpt", _config("openai", llm))
    llm.reply("cached answer", usage=FakeUsage(120, 17, cache_read=900))
    try:
        response = await backend.complete(_request())
    finally:
        await backend.aclose()
    assert response.usage == Usage(input_tokens=120, output_tokens=17, cache_read_tokens=900)


async def test_default_usage_matches_what_the_fake_sent(provider: Provider, llm: FakeLLM) -> None:
    response = await provider.complete(_request())
    sent = llm.last_request.usage_sent
    assert sent is not None
    assert sent.input_tokens == len(llm.last_request.raw_body) // 4
    assert response.usage == Usage(
        input_tokens=sent.input_tokens,
        output_tokens=sent.output_tokens,
        cache_read_tokens=sent.cache_read,
        cache_write_tokens=sent.cache_write,
    )


async def test_openai_server_without_usage_gives_zeros(llm: FakeLLM) -> None:
    llm.openai_stream_usage = False
    backend = OpenAIProvider("local", _config("openai", llm, api_key=None))
    try:
        response = await backend.complete(_request())
    finally:
        await backend.aclose()
    assert response.text == "echo: hello"
    assert response.usage == Usage()
    assert llm.last_request.usage_sent is None


async def test_openai_without_key_sends_placeholder(
    llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An OPENAI_API_KEY meant for OpenAI must not be sent to a custom base_url.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key")
    backend = OpenAIProvider("local", _config("openai", llm, api_key=None))
    try:
        await backend.complete(_request())
    finally:
        await backend.aclose()
    assert llm.last_request.headers["authorization"] == "Bearer not-needed"


def test_openai_token_limit_field_depends_on_server() -> None:
    request = _request()
    assert openai_params(request)["max_completion_tokens"] == 4096
    assert "max_tokens" not in openai_params(request)
    assert (
        openai_params(request, base_url="https://api.openai.com/v1")["max_completion_tokens"]
        == 4096
    )
    local = openai_params(request, base_url="http://127.0.0.1:11434/v1")
    assert local["max_tokens"] == 4096
    assert "max_completion_tokens" not in local


# --------------------------------------------------------------------- errors


async def test_rate_limit_is_retried_after_retry_after(kind: str, llm: FakeLLM) -> None:
    backend = create_provider("p", _config(kind, llm, max_retries=2))
    llm.fail(429, retry_after=0.01)
    llm.reply("finally")
    try:
        response = await backend.complete(_request())
    finally:
        await backend.aclose()
    assert response.text == "finally"
    assert [r.status for r in llm.requests] == [429, 200]


async def test_server_errors_exhaust_retries(kind: str, llm: FakeLLM) -> None:
    backend = create_provider("p", _config(kind, llm, max_retries=1))
    llm.fail(500, "boom", retry_after=0.01, times=2)
    try:
        with pytest.raises(ProviderError) as info:
            await backend.complete(_request())
    finally:
        await backend.aclose()
    assert str(info.value) == "p: HTTP 500: boom"
    assert info.value.status_code == 500
    assert len(llm.requests) == 2


async def test_auth_error_is_reported_without_the_key(provider: Provider, llm: FakeLLM) -> None:
    llm.fail(401, f"invalid key {API_KEY}")
    with pytest.raises(ProviderError) as info:
        await provider.complete(_request())
    message = str(info.value)
    assert message.startswith(f"{provider.name}: HTTP 401: invalid key")
    assert API_KEY not in message
    assert info.value.status_code == 401
    assert len(llm.requests) == 1  # 401 is not retried


async def test_default_auth_error_message(kind: str, llm: FakeLLM) -> None:
    backend = create_provider("claude", _config(kind, llm))
    llm.fail(401)
    try:
        with pytest.raises(ProviderError) as info:
            await backend.complete(_request())
    finally:
        await backend.aclose()
    expected = "invalid x-api-key" if kind == "anthropic" else "Incorrect API key provided"
    assert str(info.value) == f"claude: HTTP 401: {expected}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_server(kind: str) -> None:
    port = _closed_port()
    base_url = f"http://127.0.0.1:{port}" + ("/v1" if kind == "openai" else "")
    config = ProviderConfig(type=kind, api_key=API_KEY, base_url=base_url, max_retries=0)
    backend = create_provider("p", config)
    try:
        with pytest.raises(ProviderError) as info:
            await backend.complete(_request())
    finally:
        await backend.aclose()
    assert str(info.value).startswith(f"p: cannot connect to http://127.0.0.1:{port}")
    assert info.value.status_code is None
    assert API_KEY not in str(info.value)


async def test_slow_answer_times_out(kind: str, llm: FakeLLM) -> None:
    backend = create_provider("p", _config(kind, llm, timeout_s=0.2))
    llm.delay(1.0)
    try:
        with pytest.raises(ProviderError, match="timed out"):
            await backend.complete(_request())
    finally:
        await backend.aclose()


def _clear_anthropic_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for var in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_PROFILE",
        "ANTHROPIC_CONFIG_DIR",
        "ANTHROPIC_FEDERATION_RULE_ID",
        "ANTHROPIC_IDENTITY_TOKEN",
        "ANTHROPIC_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))  # no ~/.config/anthropic profile


async def test_anthropic_without_any_credentials(
    llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clear_anthropic_env(monkeypatch, tmp_path)
    backend = AnthropicProvider("claude", _config("anthropic", llm, api_key=None))
    try:
        with pytest.raises(ProviderError, match=r"^claude: no API key"):
            await backend.complete(_request())
    finally:
        await backend.aclose()
    assert llm.requests == []


async def test_anthropic_broken_credentials_profile(
    llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clear_anthropic_env(monkeypatch, tmp_path)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path / "missing"))
    backend = AnthropicProvider("claude", _config("anthropic", llm, api_key=None))
    try:
        with pytest.raises(ProviderError, match=r"^claude: cannot load credentials"):
            await backend.complete(_request())
    finally:
        await backend.aclose()


async def test_anthropic_key_from_environment(
    llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clear_anthropic_env(monkeypatch, tmp_path)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-env")
    backend = AnthropicProvider("claude", _config("anthropic", llm, api_key=None))
    try:
        await backend.complete(_request())
    finally:
        await backend.aclose()
    assert llm.last_request.headers["authorization"] == "Bearer sk-from-env"
