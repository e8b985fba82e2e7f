"""The one interface every model backend implements, in provider-neutral types.

Agents speak only these types; each backend translates them to and from its
API's wire format. Keeping the types plain dataclasses (not pydantic) keeps
this module cheap to import: the SDKs are imported only when a call is made.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["user", "assistant", "tool"]
TextSink = Callable[[str], Awaitable[None]]
"""Receives streamed text deltas as they arrive from the model."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool invocation requested by the model.

    ``arguments_json`` is kept as text: a model may produce invalid JSON, and the
    tool loop must be able to report that back to the model instead of failing.
    """

    id: str
    name: str
    arguments_json: str

    def arguments(self) -> dict[str, Any]:
        """Parse the arguments; raise ``ValueError`` if they are not a JSON object."""
        try:
            value = json.loads(self.arguments_json or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"arguments are not valid JSON: {exc.msg}") from exc
        if not isinstance(value, dict):
            raise ValueError("arguments must be a JSON object")
        return value


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation message in neutral form.

    - ``user``: ``text`` from a person (or another agent).
    - ``assistant``: ``text`` and/or ``tool_calls``.
    - ``tool``: the result of one tool call: ``tool_call_id``, ``tool_name``,
      ``text`` (the result), ``is_error``.
    """

    role: Role
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    tool_name: str | None = None
    is_error: bool = False
    _encoded: str | None = field(default=None, init=False, repr=False, compare=False)
    """The JSON ``encoded`` last made of this message, for the wire format ``_encoded_for``
    (two slots rather than a tuple: 56 bytes less for each message a session holds)."""
    _encoded_for: str | None = field(default=None, init=False, repr=False, compare=False)

    def encoded(self, wire: str, encode: Callable[[Message], str]) -> str:
        """``encode(self)``, made once per wire format and kept with the message.

        A session's history is sent again, whole, at every call, and its messages are
        the same objects from turn to turn (the store holds them): encoding each once
        instead of at every call saves most of the request body's cost in a long
        session. ``encode`` must depend on the message alone (and ``wire`` name it), so
        what is kept is what it would make again; the message is immutable, and this
        memo is not part of its value (not compared, not shown).
        """
        if self._encoded_for == wire and self._encoded is not None:
            return self._encoded
        text = encode(self)
        # A memo on a frozen dataclass: set past its guard, never part of its value.
        object.__setattr__(self, "_encoded", text)
        object.__setattr__(self, "_encoded_for", wire)
        return text


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as offered to the model: name, short description, JSON schema."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ModelRequest:
    model: str
    system: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    max_tokens: int = 4096
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts exactly as the API reported them.

    ``input_tokens`` counts only uncached input; cached input is split into
    ``cache_read_tokens`` and ``cache_write_tokens`` so each is priced at its rate.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ModelResponse:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    model: str = ""


class ProviderError(Exception):
    """A model call failed after the backend's own retries were exhausted.

    The message is safe to show to a person: it never contains the API key.
    ``transient`` says the provider had an outage (429, 5xx, overloaded, a timeout or a
    lost connection), so the same call may succeed on another model; an error that is
    the caller's fault (400, 401, 403, 404, context too long, no key) is not transient.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, transient: bool = False
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.transient = transient


TRANSIENT_STATUSES = frozenset({408, 409, 429})
"""Statuses below 500 that are the provider's state, not the request's fault (the SDKs
retry exactly these and every 5xx, 529 "overloaded" included)."""


def is_transient_status(status: int) -> bool:
    return status in TRANSIENT_STATUSES or status >= 500


class Provider(Protocol):
    """A configured model backend (one entry under ``providers:``)."""

    @property
    def name(self) -> str:
        """The provider's config name, e.g. ``claude``."""
        ...

    @property
    def kind(self) -> str:
        """The backend type: ``anthropic`` or ``openai``."""
        ...

    async def complete(
        self, request: ModelRequest, on_text: TextSink | None = None
    ) -> ModelResponse:
        """Run one model call, streaming text deltas to ``on_text`` as they arrive."""
        ...

    async def warm_up(self) -> None:
        """Import the SDK and build the client off the event loop, once (later calls
        return at once). Raises ``ProviderError`` if the client cannot be built."""
        ...

    async def aclose(self) -> None:
        """Release connections. Safe to call when no call was ever made."""
        ...
