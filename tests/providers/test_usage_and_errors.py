"""Both backends through the real SDKs: usage as reported, retries, errors and credentials."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from roost.config.schema import ProviderConfig
from roost.providers.anthropic_backend import AnthropicProvider
from roost.providers.base import Provider, ProviderError, Usage
from roost.providers.factory import create_provider
from roost.providers.openai_backend import OpenAIProvider
from roost.providers.openai_backend import build_request_params as openai_params
from tests.fakes.llm_server import FakeLLM, FakeUsage
from tests.providers.support import API_KEY, make_request, provider_config

# --------------------------------------------------------------------- usage


async def test_usage_anthropic_includes_cache_read_and_write(fake_llm: FakeLLM) -> None:
    backend = AnthropicProvider("claude", provider_config("anthropic", fake_llm))
    fake_llm.reply("cached answer", usage=FakeUsage(120, 17, cache_read=900, cache_write=300))
    try:
        response = await backend.complete(make_request())
    finally:
        await backend.aclose()
    assert response.usage == Usage(
        input_tokens=120, output_tokens=17, cache_read_tokens=900, cache_write_tokens=300
    )


async def test_usage_openai_splits_cached_tokens(fake_llm: FakeLLM) -> None:
    backend = OpenAIProvider("gpt", provider_config("openai", fake_llm))
    fake_llm.reply("cached answer", usage=FakeUsage(120, 17, cache_read=900))
    try:
        response = await backend.complete(make_request())
    finally:
        await backend.aclose()
    assert response.usage == Usage(input_tokens=120, output_tokens=17, cache_read_tokens=900)


async def test_default_usage_matches_what_the_fake_sent(
    provider: Provider, fake_llm: FakeLLM
) -> None:
    response = await provider.complete(make_request())
    sent = fake_llm.last_request.usage_sent
    assert sent is not None
    assert sent.input_tokens == len(fake_llm.last_request.raw_body) // 4
    assert response.usage == Usage(
        input_tokens=sent.input_tokens,
        output_tokens=sent.output_tokens,
        cache_read_tokens=sent.cache_read,
        cache_write_tokens=sent.cache_write,
    )


async def test_openai_server_without_usage_gives_zeros(fake_llm: FakeLLM) -> None:
    fake_llm.openai_stream_usage = False
    backend = OpenAIProvider("local", provider_config("openai", fake_llm, api_key=None))
    try:
        response = await backend.complete(make_request())
    finally:
        await backend.aclose()
    assert response.text == "echo: hello"
    assert response.usage == Usage()
    assert fake_llm.last_request.usage_sent is None


async def test_openai_without_key_sends_placeholder(
    fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An OPENAI_API_KEY meant for OpenAI must not be sent to a custom base_url.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key")
    backend = OpenAIProvider("local", provider_config("openai", fake_llm, api_key=None))
    try:
        await backend.complete(make_request())
    finally:
        await backend.aclose()
    assert fake_llm.last_request.headers["authorization"] == "Bearer not-needed"


def test_openai_token_limit_field_depends_on_server() -> None:
    request = make_request()
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


async def test_rate_limit_is_retried_after_retry_after(kind: str, fake_llm: FakeLLM) -> None:
    backend = create_provider("p", provider_config(kind, fake_llm, max_retries=2))
    fake_llm.fail(429, retry_after=0.01)
    fake_llm.reply("finally")
    try:
        response = await backend.complete(make_request())
    finally:
        await backend.aclose()
    assert response.text == "finally"
    assert [r.status for r in fake_llm.requests] == [429, 200]


async def test_server_errors_exhaust_retries(kind: str, fake_llm: FakeLLM) -> None:
    backend = create_provider("p", provider_config(kind, fake_llm, max_retries=1))
    fake_llm.fail(500, "boom", retry_after=0.01, times=2)
    try:
        with pytest.raises(ProviderError) as info:
            await backend.complete(make_request())
    finally:
        await backend.aclose()
    assert str(info.value) == "p: HTTP 500: boom"
    assert info.value.status_code == 500
    assert len(fake_llm.requests) == 2


async def test_auth_error_is_reported_without_the_key(
    provider: Provider, fake_llm: FakeLLM
) -> None:
    fake_llm.fail(401, f"invalid key {API_KEY}")
    with pytest.raises(ProviderError) as info:
        await provider.complete(make_request())
    message = str(info.value)
    assert message.startswith(f"{provider.name}: HTTP 401: invalid key")
    assert API_KEY not in message
    assert info.value.status_code == 401
    assert len(fake_llm.requests) == 1  # 401 is not retried


async def test_default_auth_error_message(kind: str, fake_llm: FakeLLM) -> None:
    backend = create_provider("claude", provider_config(kind, fake_llm))
    fake_llm.fail(401)
    try:
        with pytest.raises(ProviderError) as info:
            await backend.complete(make_request())
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
            await backend.complete(make_request())
    finally:
        await backend.aclose()
    assert str(info.value).startswith(f"p: cannot connect to http://127.0.0.1:{port}")
    assert info.value.status_code is None
    assert API_KEY not in str(info.value)


async def test_slow_answer_times_out(kind: str, fake_llm: FakeLLM) -> None:
    backend = create_provider("p", provider_config(kind, fake_llm, timeout_s=0.2))
    fake_llm.delay(1.0)
    try:
        with pytest.raises(ProviderError, match="timed out"):
            await backend.complete(make_request())
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
    fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clear_anthropic_env(monkeypatch, tmp_path)
    backend = AnthropicProvider("claude", provider_config("anthropic", fake_llm, api_key=None))
    try:
        with pytest.raises(ProviderError, match=r"^claude: no API key"):
            await backend.complete(make_request())
    finally:
        await backend.aclose()
    assert fake_llm.requests == []


async def test_anthropic_broken_credentials_profile(
    fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clear_anthropic_env(monkeypatch, tmp_path)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path / "missing"))
    backend = AnthropicProvider("claude", provider_config("anthropic", fake_llm, api_key=None))
    try:
        with pytest.raises(ProviderError, match=r"^claude: cannot load credentials"):
            await backend.complete(make_request())
    finally:
        await backend.aclose()


async def test_anthropic_key_from_environment(
    fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clear_anthropic_env(monkeypatch, tmp_path)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-env")
    backend = AnthropicProvider("claude", provider_config("anthropic", fake_llm, api_key=None))
    try:
        await backend.complete(make_request())
    finally:
        await backend.aclose()
    assert fake_llm.last_request.headers["authorization"] == "Bearer sk-from-env"
