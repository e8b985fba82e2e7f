"""A WebSocket method, as a feature writes it: parameters, a handler, its errors.

A feature offers methods (``Feature.gateway_methods``: the scheduler's ``jobs.*``)
without importing the gateway: what a method is lives here, below the features, and
the gateway hosts what it is given. A handler gets a ``CallContext`` and its
parameters as a validated pydantic model, returns the result object, and raises
``MethodError`` for anything the client should be told.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from roost.ports import CorePorts


class MethodError(Exception):
    """A request failed in a way the client should be told about (code + message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Params(BaseModel):
    """Base for method parameters: unknown fields are refused (they are usually typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    pass


class Peer(Protocol):
    """The WebSocket connection a request came in on."""

    @property
    def client_id(self) -> str: ...

    @property
    def topics(self) -> list[str]: ...

    def subscribe(self, topic: str) -> None: ...

    def unsubscribe(self, topic: str) -> None: ...


@dataclass
class CallContext:
    core: CorePorts
    peer: Peer | None = None

    def require_peer(self) -> Peer:
        if self.peer is None:
            # "bad_request": the gateway protocol's BAD_REQUEST (roost.gateway.protocol).
            raise MethodError("bad_request", "this method needs a WebSocket connection")
        return self.peer


P = TypeVar("P", bound=BaseModel)
Handler = Callable[[CallContext, P], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Method:
    name: str
    params: type[BaseModel]
    handler: Callable[[CallContext, Any], Awaitable[dict[str, Any]]]
