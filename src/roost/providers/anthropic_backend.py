"""Anthropic Messages API backend, through the official ``anthropic`` SDK.

The streamed call itself (lazy SDK import, client, posting the encoded body,
errors, retries by the SDK) is ``streaming.StreamingSdkProvider``; this module
only knows the Messages API's wire format: the request body, the client's
credentials and the stream's events.

Note: the SDK (2.x) sends API version 2026-10-21, which rejects sampling
parameters; ``ModelRequest.temperature`` is therefore not sent to Anthropic.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roost.providers.base import (
    Message,
    ModelRequest,
    ProviderError,
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
    from anthropic import AsyncAnthropic
    from anthropic.types import (
        RawContentBlockDeltaEvent,
        RawContentBlockStartEvent,
        RawMessageDeltaEvent,
        RawMessageStartEvent,
        RawMessageStreamEvent,
    )

__all__ = ["AnthropicProvider", "build_request_params", "encode_body", "encode_request"]

_EMPTY_ANSWER_PLACEHOLDER = "(no content)"
MESSAGES_PATH = "/v1/messages"
_WIRE = "anthropic"
"""The name ``Message.encoded`` keeps this API's encoding of a message under."""


@functools.cache
def _sdk_types() -> SdkTypes:
    """What ``messages.create(stream=True)`` parses the answer into (imported on first use)."""
    from anthropic import AsyncStream
    from anthropic.types import Message as ApiMessage
    from anthropic.types import RawMessageStreamEvent

    return SdkTypes(ApiMessage, AsyncStream[RawMessageStreamEvent])


_CACHE_MARK = {"type": "ephemeral"}


def _system_param(system: str, cache: bool) -> list[dict[str, Any]]:
    block: dict[str, Any] = {"type": "text", "text": system}
    if cache:
        block["cache_control"] = _CACHE_MARK
    return [block]


def _assistant_content(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    # The API rejects text blocks that are empty or whitespace-only.
    if message.text.strip():
        blocks.append({"type": "text", "text": message.text})
    for call in message.tool_calls:
        try:
            tool_input: Any = json.loads(call.arguments_json or "{}")
        except json.JSONDecodeError:
            tool_input = {}
        if not isinstance(tool_input, dict):
            tool_input = {}
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input})
    if not blocks:
        # A model may answer with nothing (e.g. at max_tokens), and the API rejects an
        # empty assistant turn. Skipping the turn would put two user turns side by side
        # and hide from the model that it already answered, so stand in a placeholder.
        blocks.append({"type": "text", "text": _EMPTY_ANSWER_PLACEHOLDER})
    return blocks


def _tool_result(message: Message) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": message.tool_call_id or "",
        "content": message.text,
    }
    if message.is_error:
        block["is_error"] = True
    return block


def _message_param(message: Message) -> dict[str, Any]:
    """A user or assistant message as the API takes it (a tool result: ``_tool_result``)."""
    if message.role == "user":
        return {"role": "user", "content": message.text}
    return {"role": "assistant", "content": _assistant_content(message)}


def _messages_param(
    messages: tuple[Message, ...], marked: frozenset[int] = frozenset()
) -> tuple[list[dict[str, Any]], list[int]]:
    """The API's messages, and the index of the one carrying each neutral message of
    ``marked`` (in order; only those: this runs over the whole history at every call)."""
    out: list[dict[str, Any]] = []
    owners: list[int] = []
    results: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.role == "tool":
            if not results:
                out.append({"role": "user", "content": results})
            results.append(_tool_result(message))
        else:
            results = []
            out.append(_message_param(message))
        if index in marked:
            owners.append(len(out) - 1)
    return out, owners


def _conversation_marks(messages: tuple[Message, ...]) -> list[int]:
    """Which messages get a cache breakpoint: the newest, and the previous call's newest.

    The newest message's mark writes the whole prompt to the cache for the next call
    (the next tool round, or the next turn within the cache's lifetime), which then
    reads it back at a tenth of the price. The previous call's newest message (the one
    just before the latest assistant answer) is marked again so that call's entry is
    found even when more than the API's 20-block lookback was added since (many
    parallel tool results). With the tools' and the system prompt's marks that makes
    the API's maximum of four.
    """
    if not messages:
        return []
    marks = [len(messages) - 1]
    for index in range(len(messages) - 1, 0, -1):
        if messages[index].role == "assistant":
            marks.append(index - 1)
            break
    return marks


def _mark_last_block(param: dict[str, Any]) -> None:
    content = param["content"]
    if isinstance(content, str):
        if not content.strip():
            return  # the API refuses an empty text block; one mark fewer is harmless
        content = param["content"] = [{"type": "text", "text": content}]
    content[-1] = {**content[-1], "cache_control": _CACHE_MARK}


def _marked_messages(messages: tuple[Message, ...], cache: bool) -> list[dict[str, Any]]:
    """The messages as the API takes them, with the conversation's cache breakpoints.

    Tool results are sent together in one user message; a mark on a neutral message
    goes on the last block of the API message that carries it.
    """
    marks = frozenset(_conversation_marks(messages)) if cache else frozenset()
    params, owners = _messages_param(messages, marks)
    for index in sorted(set(owners)):
        _mark_last_block(params[index])
    return params


def _unmarked_json(message: Message) -> str:
    """A message's JSON without a cache mark: a tool result's block (the results of one
    round go together in one user message), any other message whole."""
    if message.role == "tool":
        return encode_json_text(_tool_result(message))
    return encode_json_text(_message_param(message))


def _tool_results_json(results: tuple[Message, ...], marked: bool) -> str:
    """One round's tool results, as the one user message that carries them."""
    if not marked:
        blocks = ",".join(result.encoded(_WIRE, _unmarked_json) for result in results)
        return f'{{"role":"user","content":[{blocks}]}}'
    param: dict[str, Any] = {"role": "user", "content": [_tool_result(r) for r in results]}
    _mark_last_block(param)
    return encode_json_text(param)


def _encoded_messages(messages: tuple[Message, ...], cache: bool) -> list[str]:
    """The items of ``_marked_messages``, each encoded: the messages a cache mark is on
    (two at most) afresh, every other one as kept with it (``Message.encoded``)."""
    marks = frozenset(_conversation_marks(messages)) if cache else frozenset()
    out: list[str] = []
    index, count = 0, len(messages)
    while index < count:
        message = messages[index]
        if message.role == "tool":
            end = index + 1
            while end < count and messages[end].role == "tool":
                end += 1
            out.append(
                _tool_results_json(messages[index:end], not marks.isdisjoint(range(index, end)))
            )
            index = end
            continue
        if index in marks:
            param = _message_param(message)
            _mark_last_block(param)
            out.append(encode_json_text(param))
        else:
            out.append(message.encoded(_WIRE, _unmarked_json))
        index += 1
    return out


def encode_body(params: dict[str, Any]) -> bytes:
    """The streamed request's JSON body, as the SDK would encode ``params`` plus ``stream``.

    The body goes to the SDK already encoded: ``messages.create`` would first copy the
    whole request (a walk over every message of the history, the biggest single cost
    of a call with a long history) only to encode it the same way.
    """
    return encode_json({**params, "stream": True})


def build_request_params(request: ModelRequest, *, cache: bool = True) -> dict[str, Any]:
    """The Messages API body (without ``stream``) for a neutral request.

    With ``cache``, up to four prompt-cache breakpoints (the API's maximum): the last
    tool (caching all tools), the system prompt, and two in the conversation (see
    ``_conversation_marks``). The prefix order is tools, system, messages, so each
    mark caches everything before it too.
    """
    return {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": _marked_messages(request.messages, cache),
        **_system_and_tools(request, cache),
    }


def encode_request(request: ModelRequest, *, cache: bool = True) -> bytes:
    """``encode_body(build_request_params(request, cache=cache))``, byte for byte, with the
    history's messages encoded once each instead of at every call (``Message.encoded``):
    in a long session that encoding was most of a call's own CPU."""
    head = {"model": request.model, "max_tokens": request.max_tokens}
    tail = {**_system_and_tools(request, cache), "stream": True}
    return splice_messages(head, _encoded_messages(request.messages, cache), tail)


def _system_and_tools(request: ModelRequest, cache: bool) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if request.system:
        params["system"] = _system_param(request.system, cache)
    if request.tools:
        tools = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in request.tools
        ]
        if cache:
            tools[-1]["cache_control"] = _CACHE_MARK
        params["tools"] = tools
    return params


@dataclass
class _Block:
    kind: str
    text: list[str] = field(default_factory=list)
    tool_id: str = ""
    tool_name: str = ""
    tool_input: object = None
    json_parts: list[str] = field(default_factory=list)

    def tool_call(self) -> ToolCall:
        raw = "".join(self.json_parts)
        if not raw:
            raw = json.dumps(self.tool_input if self.tool_input is not None else {})
        return ToolCall(id=self.tool_id, name=self.tool_name, arguments_json=raw)


class _AnthropicAccumulator(StreamAccumulator["RawMessageStreamEvent"]):
    """Reads Messages API stream events: content blocks by index, usage at start and end."""

    def __init__(self, model: str, on_text: TextSink | None) -> None:
        super().__init__(model, on_text)
        self._blocks: dict[int, _Block] = {}

    async def consume(self, event: RawMessageStreamEvent) -> None:
        if event.type == "message_start":
            self._start_message(event)
        elif event.type == "content_block_start":
            await self._start_block(event)
        elif event.type == "content_block_delta":
            await self._extend_block(event)
        elif event.type == "message_delta":
            self._finish_message(event)

    def _start_message(self, event: RawMessageStartEvent) -> None:
        message = event.message
        self.model = message.model or self.model
        usage = message.usage
        self.usage = Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
        )

    async def _start_block(self, event: RawContentBlockStartEvent) -> None:
        start = event.content_block
        if start.type == "text":
            block = self._blocks[event.index] = _Block("text")
            if start.text:
                await self._add_text(block, start.text)
        elif start.type == "tool_use":
            self._blocks[event.index] = _Block(
                "tool_use", tool_id=start.id, tool_name=start.name, tool_input=start.input
            )

    async def _extend_block(self, event: RawContentBlockDeltaEvent) -> None:
        block = self._blocks.get(event.index)
        if block is None:
            return
        delta = event.delta
        if delta.type == "text_delta":
            await self._add_text(block, delta.text)
        elif delta.type == "input_json_delta":
            block.json_parts.append(delta.partial_json)

    async def _add_text(self, block: _Block, text: str) -> None:
        block.text.append(text)
        await self.emit_text(text)

    def _finish_message(self, event: RawMessageDeltaEvent) -> None:
        self.stop_reason = event.delta.stop_reason or self.stop_reason
        final = event.usage
        # The final counts are cumulative; a field left out keeps its message_start value.
        self.usage = Usage(
            input_tokens=_value_or(final.input_tokens, self.usage.input_tokens),
            output_tokens=final.output_tokens,
            cache_read_tokens=_value_or(
                final.cache_read_input_tokens, self.usage.cache_read_tokens
            ),
            cache_write_tokens=_value_or(
                final.cache_creation_input_tokens, self.usage.cache_write_tokens
            ),
        )

    def content(self) -> tuple[str, tuple[ToolCall, ...]]:
        blocks = [self._blocks[index] for index in sorted(self._blocks)]
        text = "".join("".join(b.text) for b in blocks if b.kind == "text")
        return text, tuple(b.tool_call() for b in blocks if b.kind != "text")


def _value_or(value: int | None, fallback: int) -> int:
    return value if value is not None else fallback


class AnthropicProvider(StreamingSdkProvider):
    """A ``Provider`` for the Anthropic Messages API (always streamed)."""

    kind_name = "anthropic"
    sdk_name = "anthropic"
    path = MESSAGES_PATH

    def _make_client(self) -> AsyncAnthropic:
        import anthropic

        key = self._config.api_key
        try:
            client = anthropic.AsyncAnthropic(
                # None lets the SDK read ANTHROPIC_API_KEY (or its other credentials).
                api_key=key.get_secret_value() if key is not None else None,
                base_url=self._config.base_url,
                max_retries=self._config.max_retries,
                timeout=self._config.timeout_s,
            )
            missing = (
                client.api_key is None and client.auth_token is None and client.credentials is None
            )
        except anthropic.AnthropicError as exc:  # e.g. CredentialsError from a bad profile
            raise self._error(f"cannot load credentials: {exc}") from exc
        if missing:
            raise ProviderError(
                f"{self._name}: no API key: set api_key for this provider "
                "or the ANTHROPIC_API_KEY environment variable"
            )
        return client

    def _encode_request(self, request: ModelRequest) -> bytes:
        return encode_request(request, cache=self._config.prompt_cache)

    def _sdk_types(self) -> SdkTypes:
        return _sdk_types()

    def _new_accumulator(self, model: str, on_text: TextSink | None) -> _AnthropicAccumulator:
        return _AnthropicAccumulator(model, on_text)
