"""The method registry: what a WebSocket request can call, with validated parameters.

What a method is (``Method``, ``Params``, ``CallContext``, ``MethodError``) lives in
``roost.features.methods``, re-exported here: features write their methods (the
scheduler's ``jobs.*``, offered by ``Feature.gateway_methods``) without importing the
gateway, which registers them when it starts. A handler gets a ``CallContext`` and its
parameters as a validated pydantic model, returns the result object, and raises
``MethodError`` for anything the client should be told.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from roost.bus.router import RouterStopped
from roost.features.methods import (
    CallContext,
    Handler,
    Method,
    NoParams,
    P,
    Params,
    Peer,
)
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

__all__ = [
    "CallContext",
    "Handler",
    "Method",
    "MethodError",
    "MethodRegistry",
    "NoParams",
    "Params",
    "Peer",
]

log = logging.getLogger(__name__)


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
