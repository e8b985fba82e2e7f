"""The HTTP side: /healthz, /metrics, /openapi.json and the REST API under /api.

Errors are JSON ``{"error": {"code": .., "message": ..}}`` with the codes of the
WebSocket protocol (docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, StringConstraints, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from roost.agents.turn import TurnResult
from roost.bus.envelope import Envelope, agent_address
from roost.bus.router import RouterStopped
from roost.gateway import queries
from roost.gateway.methods import Params
from roost.gateway.protocol import (
    BAD_JSON,
    BAD_REQUEST,
    INTERNAL,
    NOT_FOUND,
    SHUTTING_DOWN,
    TIMEOUT,
    TOO_LARGE,
    UNKNOWN_AGENT,
    BadJson,
    MethodError,
    loads,
    validation_message,
)
from roost.gateway.state import GatewayState

log = logging.getLogger(__name__)

HTTP_SENDER = "http:api"
DEFAULT_TIMEOUT_S = 300.0
MAX_TIMEOUT_S = 3600.0
STATUS = {
    BAD_JSON: 400,
    BAD_REQUEST: 400,
    UNKNOWN_AGENT: 404,
    NOT_FOUND: 404,
    TOO_LARGE: 413,
    SHUTTING_DOWN: 503,
    TIMEOUT: 504,
}
SHUTTING_DOWN_MESSAGE = "Roost is shutting down; try again in a moment"

Endpoint = Callable[[Request], Awaitable[Response]]
M = TypeVar("M", bound=BaseModel)


class MessageBody(Params):
    text: Annotated[str, StringConstraints(min_length=1)]
    session: Annotated[str, StringConstraints(min_length=1, max_length=200)] = "main"


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def _api(handler: Endpoint) -> Endpoint:
    """Turn ``MethodError`` (and anything unexpected) into a JSON error response."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except MethodError as exc:
            return error_response(STATUS.get(exc.code, 400), exc.code, exc.message)
        except RouterStopped as exc:
            return error_response(503, SHUTTING_DOWN, str(exc))
        except HTTPException:
            raise  # Starlette's own, rendered by http_error
        except Exception:
            log.exception("gateway: %s %s failed", request.method, request.url.path)
            return error_response(500, INTERNAL, "internal error (see the server log)")

    return endpoint


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no such route, wrong method, body too large) as JSON."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: NOT_FOUND, 405: "method_not_allowed", 413: TOO_LARGE}.get(status, "http_error")
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    return error_response(status, code, str(detail))


class HttpApi:
    def __init__(self, state: GatewayState) -> None:
        self._state = state
        self._app = state.app

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/api/agents", _api(self.agents), methods=["GET"]),
            Route("/api/agents/{name}/messages", _api(self.post_message), methods=["POST"]),
            Route("/api/agents/{name}/sessions", _api(self.sessions), methods=["GET"]),
            Route(
                "/api/agents/{name}/sessions/{key}/messages", _api(self.history), methods=["GET"]
            ),
            Route("/api/agents/{name}/sessions/{key}", _api(self.reset), methods=["DELETE"]),
            Route("/api/usage", _api(self.usage), methods=["GET"]),
        ]

    async def healthz(self, request: Request) -> Response:
        return JSONResponse(queries.health(self._app))

    async def metrics(self, request: Request) -> Response:
        body, content_type = self._state.metrics.render()
        return Response(body, headers={"Content-Type": content_type})

    async def openapi(self, request: Request) -> Response:
        from roost.gateway.openapi import openapi_document  # on request, not at start-up

        return JSONResponse(openapi_document())

    async def agents(self, request: Request) -> Response:
        return JSONResponse(queries.agents_list(self._app))

    async def sessions(self, request: Request) -> Response:
        return JSONResponse(await queries.sessions_list(self._app, request.path_params["name"]))

    async def history(self, request: Request) -> Response:
        limit = _int_query(request, "limit", 50, 1, 1000)
        name, key = request.path_params["name"], request.path_params["key"]
        return JSONResponse(await queries.session_history(self._app, name, key, limit))

    async def reset(self, request: Request) -> Response:
        name, key = request.path_params["name"], request.path_params["key"]
        return JSONResponse(await queries.session_reset(self._app, name, key))

    async def usage(self, request: Request) -> Response:
        return JSONResponse(
            await queries.usage_summary(self._app, request.query_params.get("since"))
        )

    async def post_message(self, request: Request) -> Response:
        """Send a message and wait for the turn's answer."""
        name = request.path_params["name"]
        queries.require_agent(self._app, name)
        body = await _body(request, MessageBody, self._state.config.max_frame_bytes)
        timeout_s = _timeout(request)
        envelope = Envelope(
            sender=HTTP_SENDER, recipient=agent_address(name), session=body.session, body=body.text
        )
        try:
            result = await self._ask(envelope, timeout_s)
        except TimeoutError:
            message = (
                f"no answer within {timeout_s:g}s; the turn goes on and its answer will be in "
                "the session's history"
            )
            return error_response(504, TIMEOUT, message, message_id=envelope.id)
        return JSONResponse(_turn_json(envelope, result))

    async def _ask(self, envelope: Envelope, timeout_s: float) -> TurnResult:
        """``Router.ask``, given up (503) when the gateway stops first."""
        if self._state.stopping.is_set():
            raise MethodError(SHUTTING_DOWN, SHUTTING_DOWN_MESSAGE)
        ask = asyncio.ensure_future(self._app.router.ask(envelope, timeout_s))
        stopping = asyncio.ensure_future(self._state.stopping.wait())
        try:
            await asyncio.wait({ask, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not ask.done():
                ask.cancel()
            await asyncio.gather(ask, stopping, return_exceptions=True)
        if ask.cancelled():
            raise MethodError(SHUTTING_DOWN, SHUTTING_DOWN_MESSAGE)
        return ask.result()


def _turn_json(envelope: Envelope, result: TurnResult) -> dict[str, Any]:
    return {
        "message_id": envelope.id,
        "agent": result.agent,
        "session": result.session,
        "status": result.status,
        "text": result.text,
        "input_tokens": result.usage.input_tokens,
        "output_tokens": result.usage.output_tokens,
        "cost_usd": round(result.cost_usd, 8),
        "duration_ms": result.duration_ms,
    }


async def _body(request: Request, model: type[M], max_bytes: int) -> M:
    try:
        data = loads(await _read_limited(request, max_bytes))
    except BadJson as exc:
        raise MethodError(BAD_JSON, f"body: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MethodError(BAD_REQUEST, "body: must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MethodError(BAD_REQUEST, validation_message(exc, "body")) from None


async def _read_limited(request: Request, max_bytes: int) -> bytes:
    too_large = MethodError(TOO_LARGE, f"body: larger than {max_bytes} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_large
    return bytes(body)


def _timeout(request: Request) -> float:
    raw = request.query_params.get("timeout_s")
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_TIMEOUT_S:
        raise MethodError(BAD_REQUEST, f"timeout_s: a number of seconds in (0, {MAX_TIMEOUT_S:g}]")
    return value


def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise MethodError(BAD_REQUEST, f"{name}: an integer from {low} to {high}")
    return value
