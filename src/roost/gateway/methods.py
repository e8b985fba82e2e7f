"""The method registry: what a WebSocket request can call, with validated parameters.

Other parts of Roost add their own methods (the scheduler's ``jobs.*``) through
``GatewayService.methods.register(name, ParamsModel, handler)``. A handler gets a
``CallContext`` and its parameters as a validated pydantic model, returns the result
object, and raises ``MethodError`` for anything the client should be told.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from roost.bus.router import RouterStopped
from roost.gateway.protocol import (
    BAD_REQUEST,
    INTERNAL,
    SHUTTING_DOWN,
    UNKNOWN_METHOD,
    MethodError,
    Request,
    response_error,
    response_ok,
    validation_message,
)
from roost.store.database import StorageUnavailable

if TYPE_CHECKING:
    from roost.ports import CorePorts

log = logging.getLogger(__name__)


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
            raise MethodError(BAD_REQUEST, "this method needs a WebSocket connection")
        return self.peer


P = TypeVar("P", bound=BaseModel)
Handler = Callable[[CallContext, P], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Method:
    name: str
    params: type[BaseModel]
    handler: Callable[[CallContext, Any], Awaitable[dict[str, Any]]]


class MethodRegistry:
    def __init__(self) -> None:
        self._methods: dict[str, Method] = {}

    def register(self, name: str, params: type[P], handler: Handler[P]) -> None:
        if name in self._methods:
            raise ValueError(f"gateway method {name!r} is already registered")
        self._methods[name] = Method(name, params, handler)

    def names(self) -> list[str]:
        return sorted(self._methods)

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    async def call(self, context: CallContext, request: Request) -> dict[str, Any]:
        """Run ``request``; always returns a response frame, never raises (but cancels)."""
        method = self._methods.get(request.method)
        if method is None:
            return response_error(
                request.id,
                UNKNOWN_METHOD,
                f"unknown method {request.method!r}; methods: {', '.join(self.names())}",
            )
        try:
            params = method.params.model_validate(request.params)
        except ValidationError as exc:
            return response_error(request.id, BAD_REQUEST, validation_message(exc))
        try:
            result = await method.handler(context, params)
        except MethodError as exc:
            return response_error(request.id, exc.code, exc.message)
        except RouterStopped as exc:
            return response_error(request.id, SHUTTING_DOWN, str(exc))
        except StorageUnavailable as exc:  # logged once by the store, not per request
            return response_error(request.id, exc.code, str(exc))
        except Exception:
            log.exception("gateway method %s failed", request.method)
            return response_error(request.id, INTERNAL, "internal error (see the server log)")
        return response_ok(request.id, result)
