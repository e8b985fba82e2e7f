"""The gateway as one of `roost run`'s services: start, stop, health."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from roost.app import StartupError
from roost.gateway.auth import FailureLimiter
from roost.gateway.clients import ConnectionRegistry
from roost.gateway.discovery import (
    Endpoint,
    ensure_token_file,
    remove_endpoint,
    token_path,
    write_endpoint,
)
from roost.gateway.exposure import MIN_EXPOSED_TOKEN_CHARS, exposure_warning, weak_token_message
from roost.gateway.handlers import register_builtin
from roost.gateway.methods import MethodRegistry
from roost.gateway.metrics import GatewayMetrics
from roost.gateway.origin import BrowserGuard, is_loopback
from roost.gateway.protocol import CLOSE_GOING_AWAY
from roost.gateway.server import HttpServer, build_app
from roost.gateway.state import GatewayState
from roost.gateway.ws_channel import WsChannel

if TYPE_CHECKING:
    from roost.app import App

log = logging.getLogger(__name__)

CLOSE_CONNECTIONS_TIMEOUT_S = 5.0


class GatewayService:
    """WebSocket + HTTP API on ``gateway.host:gateway.port``.

    The ``ws`` channel is registered with the dispatcher at construction, before the
    App starts, so replies a previous run left for WebSocket clients wait for them
    (``RecipientOffline``) instead of finding no channel.
    """

    name = "gateway"

    def __init__(self, app: App) -> None:
        self.app = app
        self.config = app.settings.gateway
        self.methods = MethodRegistry()
        register_builtin(self.methods)
        clients = ConnectionRegistry()
        self.metrics = GatewayMetrics(app, lambda: clients.count)
        self.channel = WsChannel(clients, app.dispatcher)
        app.dispatcher.register(self.channel)
        self.state = GatewayState(
            app, self.config, self.methods, self.metrics, clients, self.channel
        )
        self._server: HttpServer | None = None
        self._wrote_endpoint = False
        self.port: int | None = None

    @property
    def http_url(self) -> str:
        return f"http://{self._url_host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._url_host}:{self.port}/ws"

    @property
    def token_source(self) -> str:
        """Where clients find the token (never the token itself)."""
        if self.config.token is not None:
            return "gateway.token in the config"
        return str(token_path(self.app.settings.home))

    @property
    def connections(self) -> int:
        return self.state.clients.count

    @property
    def _url_host(self) -> str:
        host = self.config.host
        return f"[{host}]" if ":" in host and not host.startswith("[") else host

    def _public_routes(self) -> list[Route]:
        """Routes other services serve through the gateway (Telegram's webhook)."""
        routes: list[Route] = []
        for service in self.app.services:
            provide = getattr(service, "webhook_route", None)
            route = provide() if callable(provide) else None
            if isinstance(route, Route):
                routes.append(route)
        return routes

    async def start(self) -> None:
        token = await self._token()
        self.state.stopping.clear()
        config = self.config
        limiter = FailureLimiter(
            config.auth_failures_per_minute, config.auth_failures_per_minute_total
        )
        guard = BrowserGuard(config.host, config.allowed_hosts, config.allowed_origins)
        server = HttpServer(
            build_app(self.state, token, limiter, guard, self._public_routes()),
            self.config.host,
            self.config.port,
            self.config.max_frame_bytes,
        )
        self.port = await server.start()
        self._server = server
        self.metrics.start()
        settings = self.app.settings
        endpoint = Endpoint(
            ws_url=self.ws_url,
            http_url=self.http_url,
            pid=os.getpid(),
            config_path=str(settings.config_path) if settings.config_path else None,
            config_sha256=settings.config_sha256,
        )
        await asyncio.to_thread(write_endpoint, self.app.settings.home, endpoint)
        self._wrote_endpoint = True
        log.info(
            "gateway listening on %s (WebSocket %s); token: %s",
            self.http_url,
            self.ws_url,
            self.token_source,
        )
        if not is_loopback(config.host):
            log.warning("%s", exposure_warning(config.host))

    async def _token(self) -> str:
        secret = self.config.token.get_secret_value() if self.config.token else ""
        if not secret:
            secret = await asyncio.to_thread(ensure_token_file, self.app.settings.home)
            where = f"{token_path(self.app.settings.home)} (delete it to get a new one)"
        else:
            where = "gateway.token"
        if not is_loopback(self.config.host) and len(secret) < MIN_EXPOSED_TOKEN_CHARS:
            raise StartupError(weak_token_message(self.config.host, where))
        return secret

    async def stop(self) -> None:
        self.state.stopping.set()
        self.metrics.stop()
        if self._wrote_endpoint:
            await asyncio.to_thread(remove_endpoint, self.app.settings.home)
            self._wrote_endpoint = False
        if self._server is None:
            return
        await self.state.clients.close_all(
            CLOSE_GOING_AWAY, "server shutting down", CLOSE_CONNECTIONS_TIMEOUT_S
        )
        await self.channel.close()
        await self._server.stop()
        self._server = None

    def health(self) -> dict[str, Any]:
        if self._server is None:
            return {"state": "stopped"}
        return {"state": "ok", "url": self.http_url, "connections": self.connections}
