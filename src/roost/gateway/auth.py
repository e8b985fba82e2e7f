"""The token check in front of every route but /healthz, and the per-address failure limit.

The token comes as ``Authorization: Bearer <token>`` or ``?token=<token>``. Failures
are logged with the client address, never with what was sent. More than
``gateway.auth_failures_per_minute`` failures from one address within 60 s get that
address refused (HTTP 429 / WebSocket close 4429) for 60 s, even with the right token.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from roost.gateway.protocol import (
    CLOSE_RATE_LIMITED,
    CLOSE_UNAUTHORIZED,
    RATE_LIMITED,
    UNAUTHORIZED,
)

log = logging.getLogger(__name__)

WINDOW_S = 60.0
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json"})
_MAX_TRACKED_ADDRESSES = 4096


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class FailureLimiter:
    """Counts authentication failures per address over a sliding window."""

    def __init__(
        self, limit: int, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def blocked(self, address: str) -> bool:
        until = self._blocked_until.get(address)
        if until is None:
            return False
        if self._clock() < until:
            return True
        del self._blocked_until[address]
        self._failures.pop(address, None)
        return False

    def record_failure(self, address: str) -> bool:
        """Count a failure; True if the address is now over the limit (and blocked)."""
        now = self._clock()
        if len(self._failures) > _MAX_TRACKED_ADDRESSES:
            self._forget_old(now)
        failures = self._failures.setdefault(address, deque())
        failures.append(now)
        while failures and failures[0] <= now - self._window_s:
            failures.popleft()
        if len(failures) > self._limit:
            self._blocked_until[address] = now + self._window_s
            return True
        return False

    def _forget_old(self, now: float) -> None:
        for address, failures in list(self._failures.items()):
            if not failures or failures[-1] <= now - self._window_s:
                del self._failures[address]
        for address, until in list(self._blocked_until.items()):
            if until <= now:
                del self._blocked_until[address]


class AuthMiddleware:
    """ASGI middleware: lets a request through only with the right token."""

    def __init__(
        self,
        app: ASGIApp,
        token: str,
        limiter: FailureLimiter,
        extra_public: frozenset[str] = frozenset(),
    ) -> None:
        self._app = app
        self._token = token.encode("utf-8")
        self._limiter = limiter
        self._public = PUBLIC_PATHS | extra_public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or (kind == "http" and scope["path"] in self._public):
            await self._app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        if self._limiter.blocked(address):
            await _refuse(scope, receive, send, RATE_LIMITED)
            return
        if self._authorized(scope):
            await self._app(scope, receive, send)
            return
        over_limit = self._limiter.record_failure(address)
        log.warning(
            "gateway: %s %s from %s refused: missing or wrong token%s",
            "WebSocket" if kind == "websocket" else scope.get("method", "HTTP"),
            scope["path"],
            address,
            "; too many failures, address blocked for 60s" if over_limit else "",
        )
        await _refuse(scope, receive, send, RATE_LIMITED if over_limit else UNAUTHORIZED)

    def _authorized(self, scope: Scope) -> bool:
        return any(self._matches(candidate) for candidate in _offered_tokens(scope))

    def _matches(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode("utf-8"), self._token)


def _offered_tokens(scope: Scope) -> list[str]:
    offered: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                offered.append(credentials.strip())
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    offered.extend(query.get("token", [])[:1])
    return offered


async def _refuse(scope: Scope, receive: Receive, send: Send, code: str) -> None:
    if scope["type"] == "websocket":
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        if code == RATE_LIMITED:
            await websocket.close(CLOSE_RATE_LIMITED, "too many authentication failures")
        else:
            await websocket.close(CLOSE_UNAUTHORIZED, "unauthorized")
        return
    if code == RATE_LIMITED:
        message = "too many authentication failures from this address; try again in a minute"
        response = JSONResponse(
            {"error": {"code": code, "message": message}},
            status_code=429,
            headers={"Retry-After": str(int(WINDOW_S))},
        )
    else:
        message = "missing or wrong token: send Authorization: Bearer <token> or ?token=<token>"
        response = JSONResponse(
            {"error": {"code": code, "message": message}},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    await response(scope, receive, send)
