"""The wire format of the WebSocket API: frames, error codes, request parsing.

Frames are JSON text. A client sends requests
``{"type":"req","id":..,"method":..,"params":{..}}``; the server answers each with
``{"type":"res","id":..,"ok":true,"result":{..}}`` or ``"ok":false,"error":{code,message}``
and pushes events ``{"type":"event","event":..,"data":{..}}``. See docs/protocol.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from typing_extensions import TypeIs

# Written by features too (their methods' errors), so it lives below them.
from roost.features.methods import MethodError as MethodError

PROTOCOL_VERSION = "0.1.0"

# Error codes (responses and HTTP bodies).
BAD_JSON = "bad_json"
BAD_REQUEST = "bad_request"
UNKNOWN_METHOD = "unknown_method"
TOO_LARGE = "too_large"
UNKNOWN_AGENT = "unknown_agent"
NOT_FOUND = "not_found"
SHUTTING_DOWN = "shutting_down"
INTERNAL = "internal"
UNAUTHORIZED = "unauthorized"
RATE_LIMITED = "rate_limited"
TIMEOUT = "timeout"
SLOW_CONSUMER = "slow_consumer"

# WebSocket close codes.
CLOSE_GOING_AWAY = 1001
CLOSE_UNAUTHORIZED = 4401
CLOSE_SLOW_CONSUMER = 4408
CLOSE_RATE_LIMITED = 4429

RequestId = str | int | float

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects accepted in a frame or request body."""


class BadJson(ValueError):
    """Text that is not JSON the server accepts (``message`` says why)."""


class FrameError(MethodError):
    """A frame that is not a valid request; ``request_id`` is what the answer echoes."""

    def __init__(self, request_id: RequestId | None, code: str, message: str) -> None:
        super().__init__(code, message)
        self.request_id = request_id


@dataclass(frozen=True)
class Request:
    id: RequestId
    method: str
    params: dict[str, Any] = field(default_factory=dict)


def response_ok(request_id: RequestId | None, result: dict[str, Any]) -> dict[str, Any]:
    return {"type": "res", "id": request_id, "ok": True, "result": result}


def response_error(request_id: RequestId | None, code: str, message: str) -> dict[str, Any]:
    return {
        "type": "res",
        "id": request_id,
        "ok": False,
        "error": {"code": code, "message": message},
    }


def event_frame(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event", "event": name, "data": data}


def encode(frame: dict[str, Any]) -> str:
    """The frame as JSON text; ``ValueError`` for NaN or an infinity (not JSON)."""
    return json.dumps(
        frame, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False
    )


def loads(text: str | bytes) -> Any:
    """Strict JSON: ``BadJson`` for invalid JSON, NaN/Infinity, or nesting over
    ``MAX_JSON_DEPTH`` (Python's json accepts the first and recurses on the second)."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadJson(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except BadJson:
        raise
    except ValueError as exc:
        raise BadJson(str(exc)) from None
    _check_depth(text, value)
    return value


def _refuse_constant(name: str) -> Any:
    raise BadJson(f"{name} is not a JSON number")


def _check_depth(text: str | bytes, value: Any) -> None:
    # Counting brackets (C speed) spares the walk for the usual small frames.
    if isinstance(text, str):
        opened = text.count("[") + text.count("{")
    else:
        opened = text.count(b"[") + text.count(b"{")
    if opened <= MAX_JSON_DEPTH:
        return
    for depth in _depths(value):
        if depth > MAX_JSON_DEPTH:
            raise BadJson(f"nested deeper than {MAX_JSON_DEPTH} levels")


def _depths(value: Any) -> Iterator[int]:
    """The depth of every array and object in ``value`` (iterative: no recursion limit)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        yield depth
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def parse_request(text: str, max_bytes: int) -> Request:
    """The request in a text frame, or ``FrameError`` with the id (if any) to echo."""
    if _too_large(text, max_bytes):
        raise FrameError(None, TOO_LARGE, f"frame is larger than {max_bytes} bytes")
    try:
        frame = loads(text)
    except BadJson as exc:
        raise FrameError(None, BAD_JSON, f"frame is not valid JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise FrameError(None, BAD_JSON, "frame must be a JSON object")
    request_id = frame.get("id")
    if not _valid_id(request_id):
        raise FrameError(None, BAD_REQUEST, "id: required, a string or a number")
    kind = frame.get("type")
    if kind != "req":
        what = "missing" if kind is None else f"{json.dumps(kind)} is not allowed"
        raise FrameError(request_id, BAD_REQUEST, f'type: {what}; requests use "type":"req"')
    method = frame.get("method")
    if not isinstance(method, str) or not method:
        raise FrameError(request_id, BAD_REQUEST, "method: required, a non-empty string")
    params = frame.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise FrameError(request_id, BAD_REQUEST, "params: must be a JSON object")
    return Request(request_id, method, params)


def validation_message(exc: ValidationError, prefix: str = "params") -> str:
    """``params.agent: Field required; params.limit: ...`` — names each bad field."""
    parts = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in (prefix, *error["loc"]))
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts) or f"{prefix}: invalid"


def _valid_id(value: object) -> TypeIs[RequestId]:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _too_large(text: str, max_bytes: int) -> bool:
    if len(text) > max_bytes:
        return True
    if len(text) * 4 <= max_bytes:
        return False
    return len(text.encode("utf-8", errors="surrogatepass")) > max_bytes
