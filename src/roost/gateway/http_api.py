"""The HTTP side: /healthz, /metrics, /openapi.json and the REST API under /api.

Errors are JSON ``{"error": {"code": .., "message": ..}}`` with the codes of the
WebSocket protocol (docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from roost.agents.turn import TurnResult
from roost.bus.envelope import Envelope, agent_address
from roost.bus.router import RouterStopped
from roost.gateway import queries
from roost.gateway.methods import Params
from roost.gateway.models import (
    Agents,
    ErrorBody,
    ErrorDetail,
    Health,
    History,
    Reset,
    Sessions,
    Status,
    TurnOut,
    Usage,
)
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
from roost.store.database import StorageUnavailable

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
Q = TypeVar("Q", bound="Query")


class MessageBody(Params):
    text: Annotated[str, StringConstraints(min_length=1)]
    session: Annotated[str, StringConstraints(min_length=1, max_length=200)] = "main"


class Query(BaseModel):
    """Base for query parameters; others (``token``) are not the handler's business."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class MessageQuery(Query):
    timeout_s: float = Field(
        default=DEFAULT_TIMEOUT_S,
        gt=0,
        le=MAX_TIMEOUT_S,
        allow_inf_nan=False,
        description="Seconds to wait for the answer; the turn goes on after a 504",
    )


class HistoryQuery(Query):
    limit: int = Field(default=50, ge=1, le=1000, description="The last this many messages")


Since = Annotated[
    str,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ],
            "description": "YYYY-MM-DD or an ISO datetime (naive = UTC)",
        }
    ),
]


class UsageQuery(Query):
    since: Since | None = None
    by: Literal["agent", "model", "day", "role", "job"] = "agent"


@dataclass(frozen=True)
class Operation:
    """One route of the HTTP API, with what /openapi.json says about it."""

    method: str
    path: str
    summary: str
    handler: str
    """The name of the ``HttpApi`` method that serves it."""
    reply: type[BaseModel] | None
    """The 200 body; ``None``: not JSON."""
    errors: tuple[int, ...] = ()
    query: type[Query] | None = None
    body: type[BaseModel] | None = None
    public: bool = False
    """Served without the token."""
    links: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()
    """OpenAPI links from the 200 reply: (name, operation's handler, (parameter, value))."""


_SESSION_OF_REPLY = (("path.name", "$request.path.name"), ("path.key", "$response.body#/session"))
_SAME_SESSION = (("path.name", "$request.path.name"), ("path.key", "$request.path.key"))

OPERATIONS = (
    Operation("GET", "/healthz", "Liveness and components", "healthz", Health, public=True),
    Operation("GET", "/metrics", "Prometheus metrics", "metrics", None),
    Operation("GET", "/openapi.json", "This document", "openapi", None, public=True),
    Operation("GET", "/api/agents", "List the agents", "agents", Agents),
    Operation("GET", "/api/status", "How the process is doing (`roost status`)", "status", Status),
    Operation(
        "POST",
        "/api/agents/{name}/messages",
        "Send a message and wait for the answer",
        "post_message",
        TurnOut,
        (400, 404, 413, 503, 504, 507),
        query=MessageQuery,
        body=MessageBody,
        links=(
            ("history", "history", _SESSION_OF_REPLY),
            ("reset", "reset", _SESSION_OF_REPLY),
        ),
    ),
    Operation(
        "GET",
        "/api/agents/{name}/sessions",
        "List an agent's sessions",
        "sessions",
        Sessions,
        (404,),
    ),
    Operation(
        "GET",
        "/api/agents/{name}/sessions/{key}/messages",
        "A session's messages, oldest first",
        "history",
        History,
        (400, 404),
        query=HistoryQuery,
    ),
    Operation(
        "DELETE",
        "/api/agents/{name}/sessions/{key}",
        "Forget a session's history (it no longer exists afterwards)",
        "reset",
        Reset,
        (404, 503, 507),
        links=(("history", "history", _SAME_SESSION),),
    ),
    Operation(
        "GET",
        "/api/usage",
        "Spend and tokens from the ledger",
        "usage",
        Usage,
        (400,),
        query=UsageQuery,
    ),
)


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    detail = ErrorDetail(code=code, message=message, **extra)
    body = ErrorBody(error=detail).model_dump(mode="json", exclude_none=True)
    return JSONResponse(body, status_code=status)


def _reply(model: BaseModel) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"))


def _api(handler: Endpoint) -> Endpoint:
    """Turn ``MethodError`` (and anything unexpected) into a JSON error response."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except MethodError as exc:
            return error_response(STATUS.get(exc.code, 400), exc.code, exc.message)
        except RouterStopped as exc:
            return error_response(503, SHUTTING_DOWN, str(exc))
        except StorageUnavailable as exc:  # logged once by the store, not per request
            return error_response(exc.http_status, exc.code, str(exc))
        except HTTPException:
            raise  # Starlette's own, rendered by http_error
        except Exception:
            log.exception("gateway: %s %s failed", request.method, request.url.path)
            return error_response(500, INTERNAL, "internal error (see the server log)")

    return endpoint


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no such route, wrong method, body too large) as JSON;
    a 405 keeps its ``Allow`` header."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: NOT_FOUND, 405: "method_not_allowed", 413: TOO_LARGE}.get(status, "http_error")
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    response = error_response(status, code, str(detail))
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


class HttpApi:
    def __init__(self, state: GatewayState) -> None:
        self._state = state
        self._core = state.core

    def routes(self) -> list[Route]:
        routes = []
        for operation in OPERATIONS:
            handler: Endpoint = getattr(self, operation.handler)
            if operation.path.startswith("/api/"):
                handler = _api(handler)
            routes.append(Route(operation.path, handler, methods=[operation.method]))
        return routes

    async def healthz(self, request: Request) -> Response:
        return _reply(queries.health(self._core))

    async def metrics(self, request: Request) -> Response:
        body, content_type = self._state.metrics.render()
        return Response(body, headers={"Content-Type": content_type})

    async def openapi(self, request: Request) -> Response:
        from roost.gateway.openapi import openapi_document  # on request, not at start-up

        return JSONResponse(openapi_document())

    async def status(self, request: Request) -> Response:
        return _reply(await queries.status(self._core))

    async def agents(self, request: Request) -> Response:
        return _reply(queries.agents_list(self._core))

    async def sessions(self, request: Request) -> Response:
        return _reply(await queries.sessions_list(self._core, request.path_params["name"]))

    async def history(self, request: Request) -> Response:
        query = _query(request, HistoryQuery)
        name, key = request.path_params["name"], request.path_params["key"]
        return _reply(await queries.session_history(self._core, name, key, query.limit))

    async def reset(self, request: Request) -> Response:
        name, key = request.path_params["name"], request.path_params["key"]
        return _reply(await queries.session_reset(self._core, name, key))

    async def usage(self, request: Request) -> Response:
        query = _query(request, UsageQuery)
        return _reply(await queries.usage_summary(self._core, query.since, query.by))

    async def post_message(self, request: Request) -> Response:
        """Send a message and wait for the turn's answer."""
        name = request.path_params["name"]
        queries.require_agent(self._core, name)
        timeout_s = _query(request, MessageQuery).timeout_s
        body = await _body(request, MessageBody, self._state.config.max_frame_bytes)
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
        return _reply(_turn(envelope, result))

    async def _ask(self, envelope: Envelope, timeout_s: float) -> TurnResult:
        """``Router.ask``, given up (503) when the gateway stops first."""
        if self._state.stopping.is_set():
            raise MethodError(SHUTTING_DOWN, SHUTTING_DOWN_MESSAGE)
        ask = asyncio.ensure_future(self._core.inbox.ask(envelope, timeout_s))
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


def _turn(envelope: Envelope, result: TurnResult) -> TurnOut:
    return TurnOut.model_validate({"message_id": envelope.id, **result.as_dict()})


def _query(request: Request, model: type[Q]) -> Q:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise MethodError(BAD_REQUEST, validation_message(exc, "query")) from None


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
