"""The token check in front of every route but the public ones, and the failure limits.

Order for each request: a browser request from a foreign page (``Host``/``Origin``, see
``roost.gateway.origin``) is refused with 403 / close 4403 and is not counted; the right
token is let through, always, whatever the limits say (so nobody can lock the owner out
by sending bad requests); a missing or wrong token is counted. More than
``gateway.auth_failures_per_minute`` failures from one address within 60 s get that
address's failures answered 429 / 4429 for 60 s, and so do all failures once more than
``gateway.auth_failures_per_minute_total`` happened within 60 s from all addresses
together (varying the source address does not get more 401s). Failures are logged with
the client address, never with what was sent.

The token may come as ``Authorization: Bearer``, as a WebSocket subprotocol
(``roost.bearer.<base64url>``, for browsers: the control page) or as ``?token=``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from roost.gateway.origin import BrowserGuard, Refusal, is_loopback
from roost.gateway.protocol import (
    CLOSE_RATE_LIMITED,
    CLOSE_UNAUTHORIZED,
    RATE_LIMITED,
    UNAUTHORIZED,
)

__all__ = [
    "BEARER_SUBPROTOCOL_PREFIX",
    "SUBPROTOCOL",
    "AuthMiddleware",
    "FailureLimiter",
    "Verdict",
    "accepted_subprotocol",
    "is_loopback",
]

log = logging.getLogger(__name__)

WINDOW_S = 60.0
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json"})
FORBIDDEN = "forbidden"
CLOSE_FORBIDDEN = 4403
_MAX_TRACKED_ADDRESSES = 4096
SUBPROTOCOL = "roost"
"""The WebSocket subprotocol the gateway accepts with when a client offers it."""
BEARER_SUBPROTOCOL_PREFIX = "roost.bearer."
"""A browser cannot set ``Authorization`` on a WebSocket, and a query string ends up in
histories and proxy logs: it offers ``roost.bearer.<base64url of the token>`` (no padding)
next to ``roost`` in ``Sec-WebSocket-Protocol`` instead. Base64url, because a subprotocol
may hold only token characters and a configured token may hold others."""


@dataclass(frozen=True)
class Verdict:
    """What one failure leads to: ``limited`` None (answer 401), ``"address"`` or
    ``"total"`` (answer 429). ``first``: the failure that went over (worth a log line)."""

    limited: str | None = None
    first: bool = False


class FailureLimiter:
    """Counts authentication failures per address and in total over a sliding window.

    Memory is bounded: the total keeps its last ``total + 1`` times, each address its
    last ``per_address + 1``, and addresses are only tracked while under the total.
    """

    def __init__(
        self,
        per_address: int,
        total: int,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_address = per_address
        self._window_s = window_s
        self._clock = clock
        self._recent: deque[float] = deque(maxlen=total + 1)
        self._failures: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._total_over = False

    def record_failure(self, address: str) -> Verdict:
        now = self._clock()
        self._recent.append(now)
        if self._address_blocked(address, now):
            return Verdict("address")
        if self._over_total(now):
            first, self._total_over = not self._total_over, True
            return Verdict("total", first)
        self._total_over = False
        if len(self._failures) > _MAX_TRACKED_ADDRESSES:
            self._forget_old(now)
        failures = self._failures.setdefault(address, deque(maxlen=self._per_address + 1))
        failures.append(now)
        if len(failures) > self._per_address and failures[0] > now - self._window_s:
            self._blocked_until[address] = now + self._window_s
            del self._failures[address]
            return Verdict("address", first=True)
        return Verdict()

    def _over_total(self, now: float) -> bool:
        recent = self._recent
        return len(recent) == recent.maxlen and recent[0] > now - self._window_s

    def _address_blocked(self, address: str, now: float) -> bool:
        until = self._blocked_until.get(address)
        if until is None:
            return False
        if now < until:
            return True
        del self._blocked_until[address]
        return False

    def _forget_old(self, now: float) -> None:
        for address, failures in list(self._failures.items()):
            if not failures or failures[-1] <= now - self._window_s:
                del self._failures[address]
        for address, until in list(self._blocked_until.items()):
            if until <= now:
                del self._blocked_until[address]


class _QuietLog:
    """At most one warning a window for refusals any web page can trigger at will."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._next = 0.0
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        now = self._clock()
        if now < self._next:
            self._suppressed += 1
            return
        if self._suppressed:
            message += " (%d more such refusals not logged)"
            args = (*args, self._suppressed)
        log.warning(message, *args)
        self._next, self._suppressed = now + WINDOW_S, 0


class AuthMiddleware:
    """ASGI middleware: lets a request through only from an acceptable page, with the token."""

    def __init__(
        self,
        app: ASGIApp,
        token: str,
        limiter: FailureLimiter,
        guard: BrowserGuard,
        extra_public: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._token = token.encode("utf-8")
        self._limiter = limiter
        self._guard = guard
        self._public = PUBLIC_PATHS | extra_public
        self._quiet = _QuietLog(clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or (kind == "http" and scope["path"] in self._public):
            await self._app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        what = (
            f"{'WebSocket' if kind == 'websocket' else scope.get('method', 'HTTP')} {scope['path']}"
        )
        refusal = self._guard.refusal(_headers(scope))
        if refusal is not None:
            self._quiet.warning("gateway: %s from %s refused: %s", what, address, refusal.detail)
            await _forbid(scope, receive, send, refusal)
            return
        if self._authorized(scope):
            await self._app(scope, receive, send)
            return
        verdict = self._limiter.record_failure(address)
        if verdict.limited is None or verdict.first:
            note = _LIMIT_NOTES[verdict.limited] if verdict.limited else ""
            log.warning(
                "gateway: %s from %s refused: missing or wrong token%s", what, address, note
            )
        await _refuse(scope, receive, send, RATE_LIMITED if verdict.limited else UNAUTHORIZED)

    def _authorized(self, scope: Scope) -> bool:
        return any(self._matches(candidate) for candidate in _offered_tokens(scope))

    def _matches(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode("utf-8"), self._token)


_LIMIT_NOTES = {
    "address": "; too many failures from this address: its failures get 429 for 60s",
    "total": "; too many failures from all addresses: every failure gets 429 until it calms down",
}


def _headers(scope: Scope) -> dict[str, str]:
    # The first of each name: a second Host or Origin header does not get a second chance.
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return headers


def _offered_tokens(scope: Scope) -> list[str]:
    # At most one token from each place (the first header, the first bearer entry): a
    # request is one failure to the limiter however many it offers, so each more one
    # would be a free guess.
    offered: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                offered.append(credentials.strip())
            break
    bearers = [p for p in _subprotocols(scope) if p.startswith(BEARER_SUBPROTOCOL_PREFIX)]
    if bearers:
        decoded = _decode_bearer(bearers[0].removeprefix(BEARER_SUBPROTOCOL_PREFIX))
        if decoded:
            offered.append(decoded)
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    offered.extend(query.get("token", [])[:1])
    return offered


def _subprotocols(scope: Scope) -> list[str]:
    found = scope.get("subprotocols") if scope["type"] == "websocket" else None
    return [str(protocol) for protocol in found or ()]


def _decode_bearer(encoded: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None  # counted as a wrong token, like any other garbage


def accepted_subprotocol(scope: Scope) -> str | None:
    """``roost`` when the client offered it (the page does), else None.

    A browser that offered subprotocols drops a connection accepted without one of
    them, before the page could read a close code: so even a refusal accepts with it.
    The ``roost.bearer.*`` entry is never echoed back.
    """
    return SUBPROTOCOL if SUBPROTOCOL in _subprotocols(scope) else None


async def _forbid(scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
    if scope["type"] == "websocket":
        websocket = WebSocket(scope, receive, send)
        await websocket.accept(subprotocol=accepted_subprotocol(scope))
        await websocket.close(CLOSE_FORBIDDEN, refusal.reason)
        return
    body = _error(FORBIDDEN, refusal.detail, "permission_error")
    await JSONResponse(body, status_code=403)(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, code: str) -> None:
    if scope["type"] == "websocket":
        websocket = WebSocket(scope, receive, send)
        await websocket.accept(subprotocol=accepted_subprotocol(scope))
        if code == RATE_LIMITED:
            await websocket.close(CLOSE_RATE_LIMITED, "too many authentication failures")
        else:
            await websocket.close(CLOSE_UNAUTHORIZED, "unauthorized")
        return
    if code == RATE_LIMITED:
        message = "too many authentication failures; try again in a minute"
        response = JSONResponse(
            _error(code, message, "rate_limit_error"),
            status_code=429,
            headers={"Retry-After": str(int(WINDOW_S))},
        )
    else:
        message = "missing or wrong token: send Authorization: Bearer <token> or ?token=<token>"
        response = JSONResponse(
            _error(code, message, "authentication_error"),
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    await response(scope, receive, send)


def _error(code: str, message: str, kind: str) -> dict[str, object]:
    """The gateway's error (``code``, ``message``), with the two more fields of OpenAI's
    shape (``type``, ``param``), so OpenAI clients of ``/v1`` read refusals too."""
    return {"error": {"code": code, "message": message, "type": kind, "param": None}}
