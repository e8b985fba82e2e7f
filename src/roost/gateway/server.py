"""The Starlette app and the uvicorn server that runs it inside Roost's own event loop.

The listening socket is bound here (not by uvicorn) so that a port in use is a
clear ``StartupError`` instead of uvicorn's ``sys.exit``, and so that port 0 gives
the bound port at once. uvicorn's signal handling is switched off: `roost run`
owns SIGINT/SIGTERM and stops the gateway in its own shutdown order.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Iterator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, WebSocketRoute

from roost.errors import StartupError
from roost.features.contract import HttpRoute
from roost.gateway.auth import AuthMiddleware, FailureLimiter
from roost.gateway.http_api import HttpApi, http_error
from roost.gateway.origin import BrowserGuard
from roost.gateway.state import GatewayState
from roost.gateway.ws_endpoint import websocket_endpoint

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5
MIN_WS_MAX_SIZE = 16 * 1024 * 1024


def build_app(
    state: GatewayState,
    token: str,
    limiter: FailureLimiter,
    guard: BrowserGuard,
    feature_routes: Sequence[HttpRoute] = (),
) -> Starlette:
    """The gateway's ASGI app, with the routes features contribute. Their ``public``
    ones (e.g. Telegram's webhook) check their own secret instead of the gateway token,
    and skip the Host/Origin checks (they are called through whatever proxy or name the
    sender knows them by)."""
    routes: list[BaseRoute] = [
        *HttpApi(state).routes(),
        WebSocketRoute("/ws", websocket_endpoint(state)),
        *(found.route for found in feature_routes),
    ]
    public = frozenset(_path(found.route) for found in feature_routes if found.public)
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(
                AuthMiddleware, token=token, limiter=limiter, guard=guard, extra_public=public
            )
        ],
        exception_handlers={HTTPException: http_error},
    )


def _path(route: BaseRoute) -> str:
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        raise TypeError(f"a public route needs a path: {route!r}")
    return path


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # `roost run` handles the signals


class HttpServer:
    def __init__(self, app: Starlette, host: str, port: int, max_frame_bytes: int) -> None:
        self._app = app
        self._host = host
        self._port = port
        # Frames over max_frame_bytes must reach the app (to get `too_large`), not
        # make uvicorn close the connection.
        self._ws_max_size = max(4 * max_frame_bytes, MIN_WS_MAX_SIZE)
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> int:
        """Listen and serve; returns the bound port. Raises ``StartupError``."""
        sock = await _bind(self._host, self._port)
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,  # access lines would show ?token=
            ws="websockets-sansio",
            ws_max_size=self._ws_max_size,
            timeout_graceful_shutdown=STOP_TIMEOUT_S,
            server_header=False,
        )
        self._server = server = _Server(config)
        port = int(sock.getsockname()[1])
        self._task = task = asyncio.create_task(server.serve(sockets=[sock]), name="gateway-http")
        while not server.started:
            if task.done():
                sock.close()
                raise StartupError(f"gateway: the HTTP server did not start: {_failure(task)}")
            await asyncio.sleep(0.005)
        return port

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S * 2)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        except BaseException as exc:  # uvicorn may end with SystemExit
            if isinstance(exc, asyncio.CancelledError):
                raise
            log.warning("gateway: the HTTP server stopped with %r", exc)
        self._server = self._task = None


async def _bind(host: str, port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise StartupError(f"gateway.host: cannot resolve {host!r}: {exc}") from None
    family, _, _, _, address = sorted(infos, key=lambda info: info[0] != socket.AF_INET)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by accepted sockets: without it a response written in two parts waits
        # for the client's delayed ACK (~40 ms per REST request on loopback).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            from roost.gateway.port_holder import port_holder

            raise StartupError(
                f"gateway.port {port} is in use by {port_holder(port)}; set gateway.port "
                "or start with `roost run --port N`"
            ) from None
        raise StartupError(
            f"gateway.host/gateway.port: cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    return sock


def _failure(task: asyncio.Task[None]) -> str:
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return repr(exc) if exc else "it returned at once"
