"""The streamed SDK call both backends make, with the wire format left to each backend.

A call is the same for both APIs: create the SDK client on first use, post the
request body already encoded, read the event stream into a ``ModelResponse`` while
forwarding text deltas, turn SDK and transport failures into ``ProviderError``,
and settle the SDK's objects after the first success. A backend supplies only what
its wire format decides: the SDK's name, the client, the path, the body bytes, the
SDK types the stream parses into, and a ``StreamAccumulator`` for its events.
Importing this module imports no SDK.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from roost.config.schema import ProviderConfig
from roost.providers.base import ModelRequest, ModelResponse, TextSink, ToolCall, Usage
from roost.providers.own_thread import in_own_thread
from roost.providers.sdk_support import SdkProvider, SdkTypes, settle_sdk_import

__all__ = [
    "SdkClient",
    "StreamAccumulator",
    "StreamingSdkProvider",
    "encode_json",
    "encode_json_text",
    "splice_messages",
]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

EventT = TypeVar("EventT")


def encode_json(body: dict[str, Any]) -> bytes:
    """``body`` as the SDKs encode JSON: UTF-8, compact, no NaN or infinity."""
    return _ENCODER.encode(body).encode()


def encode_json_text(value: Any) -> str:
    """``value`` as ``encode_json`` writes it, before the UTF-8 encoding: a piece of a
    body that is put together from pieces (see ``splice_messages``)."""
    return _ENCODER.encode(value)


def splice_messages(head: dict[str, Any], messages: list[str], tail: dict[str, Any]) -> bytes:
    """The body ``encode_json({**head, "messages": [...], **tail})`` would make, from the
    messages already encoded one by one (``Message.encoded``: most are kept from earlier
    calls). Byte for byte the same: the compact encoding of an object is its members'
    encodings joined with commas. ``head`` and ``tail`` must not be empty."""
    first, rest = _ENCODER.encode(head), _ENCODER.encode(tail)
    return f'{first[:-1]},"messages":[{",".join(messages)}],{rest[1:]}'.encode()


class SdkClient(Protocol):
    """What the skeleton uses of an SDK's async client (both SDKs share the shape)."""

    @property
    def base_url(self) -> object: ...

    @property
    def post(self) -> Callable[..., Awaitable[Any]]: ...

    async def close(self) -> None: ...


class StreamAccumulator(ABC, Generic[EventT]):
    """Folds one streamed answer's events into a ``ModelResponse``.

    Streamed text goes to ``on_text`` as it arrives; the rest (tool calls, stop
    reason, usage, the model that answered) is only known once the stream has ended.
    A subclass reads its API's events and sets ``model``, ``stop_reason`` and
    ``usage`` as they come.
    """

    def __init__(self, model: str, on_text: TextSink | None) -> None:
        self._on_text = on_text
        self.model = model
        self.stop_reason: str | None = None
        self.usage = Usage()

    @abstractmethod
    async def consume(self, event: EventT) -> None:
        """Take one event of the stream, in order."""

    @abstractmethod
    def content(self) -> tuple[str, tuple[ToolCall, ...]]:
        """The whole answer's text and its tool calls, in the order the model gave them."""

    async def emit_text(self, text: str) -> None:
        """Forward a text delta to the sink (empty deltas are not worth an await)."""
        if self._on_text is not None and text:
            await self._on_text(text)

    def response(self) -> ModelResponse:
        text, tool_calls = self.content()
        return ModelResponse(
            text=text,
            tool_calls=tool_calls,
            stop_reason=self.stop_reason,
            usage=self.usage,
            model=self.model,
        )


class StreamingSdkProvider(SdkProvider, ABC):
    """A ``Provider`` whose every call is one streamed post through an official SDK.

    The SDK's own retry loop handles 429/5xx/timeouts and honours ``retry-after``
    (configured by ``max_retries`` and ``timeout_s`` on the client), so nothing here
    retries.
    """

    sdk_name: ClassVar[str] = ""
    """The SDK's import name, e.g. ``anthropic``: imported on the first call only."""
    path: ClassVar[str] = ""
    """Where the body is posted, relative to the client's base URL."""
    post_options: ClassVar[dict[str, Any]] = {}
    """Request options the SDK's own method would pass to ``post`` (read, never changed)."""
    before_import: ClassVar[Callable[[str], None] | None] = None
    """A seam for tests: called with the SDK's name in the worker thread, before the
    import (a test makes it wait on an event to hold a warm-up at that point)."""

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        self._client: SdkClient | None = None
        self._client_lock = asyncio.Lock()

    @abstractmethod
    def _make_client(self) -> SdkClient:
        """A new client for this provider's config; imports the SDK.

        Raises ``ProviderError`` when the client cannot be used (e.g. no credentials).
        """

    @abstractmethod
    def _encode_request(self, request: ModelRequest) -> bytes:
        """The streamed request's JSON body: the JSON the SDK's own method would send."""

    @abstractmethod
    def _sdk_types(self) -> SdkTypes:
        """What the SDK parses the answer and its stream into."""

    @abstractmethod
    def _new_accumulator(self, model: str, on_text: TextSink | None) -> StreamAccumulator[Any]:
        """A fresh reader of this API's stream events for one call."""

    async def complete(
        self, request: ModelRequest, on_text: TextSink | None = None
    ) -> ModelResponse:
        client = self._client or await self._first_client()
        sdk = importlib.import_module(self.sdk_name)  # loaded by now: a dictionary look-up
        body = self._encode_request(request)
        try:
            response = await self._stream(client, request.model, body, on_text)
        except sdk.APIError as exc:
            raise self._sdk_error(sdk, exc, client.base_url) from exc
        settle_sdk_import(self.sdk_name)
        return response

    async def warm_up(self) -> None:
        if self._client is None:
            await self._first_client()

    async def _first_client(self) -> SdkClient:
        """Import the SDK and build its client in a worker thread, once.

        Importing an SDK costs about a second of CPU (many seconds on a busy machine);
        on the event loop that would stall every other agent, the gateway and the
        scheduler meanwhile: messages not acknowledged, replies not sent. Building the
        client reads credentials and certificates, also blocking. Neither touches the
        loop, so both run in a thread; the lock makes concurrent first calls share it.
        It is a thread a stopping process does not wait for (``in_own_thread``).
        """
        async with self._client_lock:
            if self._client is None:
                self._client = await in_own_thread(
                    self._load_sdk_and_make_client, f"roost-load-{self.sdk_name}"
                )
            return self._client

    def _load_sdk_and_make_client(self) -> SdkClient:
        hook = StreamingSdkProvider.before_import
        if hook is not None:
            hook(self.sdk_name)
        importlib.import_module(self.sdk_name)
        importlib.import_module("httpx2")  # what _stream catches a lost connection with
        self._sdk_types()  # the SDK's stream and answer types (cached)
        return self._make_client()

    async def _stream(
        self, client: SdkClient, model: str, body: bytes, on_text: TextSink | None
    ) -> ModelResponse:
        # The SDKs raise their HTTP client's transport errors unwrapped while a stream
        # is being read; httpx2 is the client both SDKs are built on.
        import httpx2

        accumulator = self._new_accumulator(model, on_text)
        types = self._sdk_types()
        stream = await client.post(
            self.path,
            cast_to=types.answer,
            content=body,
            options=self.post_options,
            stream=True,
            stream_cls=types.stream,
        )
        try:
            async for event in stream:
                await accumulator.consume(event)
        except httpx2.TransportError as exc:
            raise self._error(f"connection lost while streaming ({exc})", transient=True) from exc
        finally:
            await stream.close()
        return accumulator.response()

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()
