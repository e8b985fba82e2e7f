"""OpenAI Chat Completions backend (also any OpenAI-compatible server), via ``openai``.

The SDK is imported lazily, on the first call, so importing this module stays
cheap. The SDK's own retry loop handles 429/5xx/timeouts and honours
``retry-after``; this module only translates requests, the streamed answer and
errors.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from roost.config.schema import ProviderConfig
from roost.providers.base import (
    Message,
    ModelRequest,
    ModelResponse,
    TextSink,
    ToolCall,
    Usage,
)
from roost.providers.sdk_support import SdkProvider, SdkTypes, settle_sdk_import

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.types import CompletionUsage
    from openai.types.chat import ChatCompletionChunk
    from openai.types.chat.chat_completion_chunk import ChoiceDelta, ChoiceDeltaToolCall

__all__ = ["OpenAIProvider", "build_request_params", "encode_body"]

_NO_KEY = "not-needed"
"""Sent when no key is configured: local servers (Ollama, llama.cpp, vLLM) need none."""
COMPLETIONS_PATH = "/chat/completions"
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_body(params: dict[str, Any]) -> bytes:
    """The streamed request's JSON body, as the SDK would encode ``params`` plus streaming.

    The body goes to the SDK already encoded: ``chat.completions.create`` would first
    transform and copy the whole request (a walk over every message of the history)
    only to encode it the same way.
    """
    body = {**params, "stream": True, "stream_options": {"include_usage": True}}
    return _ENCODER.encode(body).encode()


@functools.cache
def _sdk_types() -> SdkTypes:
    """What ``chat.completions.create(stream=True)`` parses the answer into."""
    from openai import AsyncStream
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    return SdkTypes(ChatCompletion, AsyncStream[ChatCompletionChunk])


def _message_param(message: Message) -> dict[str, Any]:
    if message.role == "user":
        return {"role": "user", "content": message.text}
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.text}
    param: dict[str, Any] = {"role": "assistant", "content": message.text or None}
    if message.tool_calls:
        param["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
            for call in message.tool_calls
        ]
    elif param["content"] is None:
        param["content"] = ""
    return param


def _is_openai_host(base_url: str | None) -> bool:
    if not base_url:
        return True
    host = urlsplit(base_url).hostname or ""
    return host == "api.openai.com" or host.endswith(".openai.com")


def build_request_params(request: ModelRequest, *, base_url: str | None = None) -> dict[str, Any]:
    """The Chat Completions body (without the streaming fields) for a neutral request.

    OpenAI itself takes ``max_completion_tokens`` (its reasoning models reject
    ``max_tokens``); other compatible servers commonly know only ``max_tokens``.
    """
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.extend(_message_param(m) for m in request.messages)
    params: dict[str, Any] = {"model": request.model, "messages": messages}
    limit_key = "max_completion_tokens" if _is_openai_host(base_url) else "max_tokens"
    params[limit_key] = request.max_tokens
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.input_schema,
                },
            }
            for t in request.tools
        ]
    if request.temperature is not None:
        params["temperature"] = request.temperature
    return params


@dataclass
class _CallParts:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def add(self, part: ChoiceDeltaToolCall) -> None:
        if part.id:
            self.id = part.id
        if part.function is None:
            return
        name = part.function.name
        # Some compatible servers repeat the name on every delta.
        if name and name != self.name:
            self.name = name if not self.name else self.name + name
        if part.function.arguments:
            self.arguments.append(part.function.arguments)

    def tool_call(self, index: int) -> ToolCall:
        return ToolCall(
            id=self.id or f"call_{index}",
            name=self.name,
            arguments_json="".join(self.arguments),
        )


class _StreamAccumulator:
    """Folds Chat Completions stream chunks into one ``ModelResponse``.

    Streamed text is forwarded to ``on_text`` as it arrives; everything else is
    only known once the stream has ended.
    """

    def __init__(self, model: str, on_text: TextSink | None) -> None:
        self._on_text = on_text
        self._texts: list[str] = []
        self._calls: dict[int, _CallParts] = {}
        self._model = model
        self._finish_reason: str | None = None
        self._usage = Usage()

    async def consume(self, chunk: ChatCompletionChunk) -> None:
        if chunk.model:
            self._model = chunk.model
        if chunk.usage is not None:
            self._usage = _usage(chunk.usage)
        for choice in chunk.choices:
            if choice.index == 0:
                await self._add_delta(choice.delta)
                if choice.finish_reason:
                    self._finish_reason = choice.finish_reason

    async def _add_delta(self, delta: ChoiceDelta) -> None:
        if delta.content:
            self._texts.append(delta.content)
            if self._on_text is not None:
                await self._on_text(delta.content)
        for part in delta.tool_calls or ():
            self._calls.setdefault(part.index, _CallParts()).add(part)

    def response(self) -> ModelResponse:
        return ModelResponse(
            text="".join(self._texts),
            tool_calls=tuple(self._calls[i].tool_call(i) for i in sorted(self._calls)),
            stop_reason=self._finish_reason,
            usage=self._usage,
            model=self._model,
        )


def _usage(reported: CompletionUsage) -> Usage:
    """Neutral usage: OpenAI counts cached input inside ``prompt_tokens``."""
    prompt = reported.prompt_tokens or 0
    details = reported.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details is not None else 0
    return Usage(
        input_tokens=max(0, prompt - cached),
        output_tokens=reported.completion_tokens or 0,
        cache_read_tokens=cached,
    )


class OpenAIProvider(SdkProvider):
    """A ``Provider`` for the Chat Completions API (always streamed)."""

    kind_name = "openai"

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        self._client: AsyncOpenAI | None = None

    def _get_client(self) -> AsyncOpenAI:
        if self._client is None:
            from openai import AsyncOpenAI

            key = self._config.api_key
            api_key = key.get_secret_value() if key is not None else None
            if not api_key and not self._config.base_url:
                # Talking to OpenAI itself: the usual environment variable applies. Never
                # send it to a custom base_url (that server is not OpenAI).
                api_key = os.environ.get("OPENAI_API_KEY")
            self._client = AsyncOpenAI(
                api_key=api_key or _NO_KEY,
                base_url=self._config.base_url,
                max_retries=self._config.max_retries,
                timeout=self._config.timeout_s,
            )
        return self._client

    async def complete(
        self, request: ModelRequest, on_text: TextSink | None = None
    ) -> ModelResponse:
        import openai

        client = self._get_client()
        params = build_request_params(request, base_url=self._config.base_url)
        try:
            response = await self._stream(client, params, on_text)
        except openai.APIError as exc:
            raise self._sdk_error(openai, exc, client.base_url) from exc
        settle_sdk_import("openai")
        return response

    async def _stream(
        self, client: AsyncOpenAI, params: dict[str, Any], on_text: TextSink | None
    ) -> ModelResponse:
        # The SDKs raise their HTTP client's transport errors unwrapped while a stream
        # is being read; httpx2 is the client both SDKs are built on.
        import httpx2

        accumulator = _StreamAccumulator(str(params["model"]), on_text)
        stream = await client.post(
            COMPLETIONS_PATH,
            cast_to=_sdk_types().answer,
            content=encode_body(params),
            options={"security": {"bearer_auth": True}},
            stream=True,
            stream_cls=_sdk_types().stream,
        )
        try:
            async for chunk in stream:
                await accumulator.consume(chunk)
        except httpx2.TransportError as exc:
            raise self._error(f"connection lost while streaming ({exc})") from exc
        finally:
            await stream.close()
        return accumulator.response()

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()
