"""OpenAI Chat Completions backend (also any OpenAI-compatible server), via ``openai``.

The streamed call itself (lazy SDK import, client, posting the encoded body,
errors, retries by the SDK) is ``streaming.StreamingSdkProvider``; this module
only knows the Chat Completions wire format: the request body, which key to
send and the stream's chunks.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from roost.providers.base import (
    Message,
    ModelRequest,
    TextSink,
    ToolCall,
    Usage,
)
from roost.providers.sdk_support import SdkTypes
from roost.providers.streaming import (
    StreamAccumulator,
    StreamingSdkProvider,
    encode_json,
    encode_json_text,
    splice_messages,
)

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.types import CompletionUsage
    from openai.types.chat import ChatCompletionChunk
    from openai.types.chat.chat_completion_chunk import ChoiceDelta, ChoiceDeltaToolCall

__all__ = ["OpenAIProvider", "build_request_params", "encode_body", "encode_request"]

_NO_KEY = "not-needed"
"""Sent when no key is configured: local servers (Ollama, llama.cpp, vLLM) need none."""
_WIRE = "openai"
"""The name ``Message.encoded`` keeps this API's encoding of a message under."""
COMPLETIONS_PATH = "/chat/completions"


def encode_body(params: dict[str, Any]) -> bytes:
    """The streamed request's JSON body, as the SDK would encode ``params`` plus streaming.

    The body goes to the SDK already encoded: ``chat.completions.create`` would first
    transform and copy the whole request (a walk over every message of the history)
    only to encode it the same way.
    """
    body = {**params, "stream": True, "stream_options": {"include_usage": True}}
    return encode_json(body)


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
    return {"model": request.model, "messages": messages, **_after_messages(request, base_url)}


def encode_request(request: ModelRequest, *, base_url: str | None = None) -> bytes:
    """``encode_body(build_request_params(request, base_url=base_url))``, byte for byte,
    with the history's messages encoded once each instead of at every call
    (``Message.encoded``): in a long session that encoding was most of a call's own CPU."""
    messages: list[str] = []
    if request.system:
        messages.append(encode_json_text({"role": "system", "content": request.system}))
    messages.extend(m.encoded(_WIRE, _message_json) for m in request.messages)
    tail = {
        **_after_messages(request, base_url),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    return splice_messages({"model": request.model}, messages, tail)


def _message_json(message: Message) -> str:
    return encode_json_text(_message_param(message))


def _after_messages(request: ModelRequest, base_url: str | None) -> dict[str, Any]:
    """The body's fields after ``messages`` (the streaming fields aside)."""
    params: dict[str, Any] = {}
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


class _OpenAIAccumulator(StreamAccumulator["ChatCompletionChunk"]):
    """Reads Chat Completions chunks: choice 0's text and tool calls (by index), usage last."""

    def __init__(self, model: str, on_text: TextSink | None) -> None:
        super().__init__(model, on_text)
        self._texts: list[str] = []
        self._calls: dict[int, _CallParts] = {}

    async def consume(self, chunk: ChatCompletionChunk) -> None:
        if chunk.model:
            self.model = chunk.model
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
        for choice in chunk.choices:
            if choice.index == 0:
                await self._add_delta(choice.delta)
                if choice.finish_reason:
                    self.stop_reason = choice.finish_reason

    async def _add_delta(self, delta: ChoiceDelta) -> None:
        if delta.content:
            self._texts.append(delta.content)
            await self.emit_text(delta.content)
        for part in delta.tool_calls or ():
            self._calls.setdefault(part.index, _CallParts()).add(part)

    def content(self) -> tuple[str, tuple[ToolCall, ...]]:
        calls = tuple(self._calls[i].tool_call(i) for i in sorted(self._calls))
        return "".join(self._texts), calls


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


class OpenAIProvider(StreamingSdkProvider):
    """A ``Provider`` for the Chat Completions API (always streamed)."""

    kind_name = "openai"
    sdk_name = "openai"
    path = COMPLETIONS_PATH
    post_options = {"security": {"bearer_auth": True}}  # as chat.completions.create

    def _make_client(self) -> AsyncOpenAI:
        from openai import AsyncOpenAI

        key = self._config.api_key
        api_key = key.get_secret_value() if key is not None else None
        if not api_key and not self._config.base_url:
            # Talking to OpenAI itself: the usual environment variable applies. Never
            # send it to a custom base_url (that server is not OpenAI).
            api_key = os.environ.get("OPENAI_API_KEY")
        return AsyncOpenAI(
            api_key=api_key or _NO_KEY,
            base_url=self._config.base_url,
            max_retries=self._config.max_retries,
            timeout=self._config.timeout_s,
        )

    def _encode_request(self, request: ModelRequest) -> bytes:
        return encode_request(request, base_url=self._config.base_url)

    def _sdk_types(self) -> SdkTypes:
        return _sdk_types()

    def _new_accumulator(self, model: str, on_text: TextSink | None) -> _OpenAIAccumulator:
        return _OpenAIAccumulator(model, on_text)
