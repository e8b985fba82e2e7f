"""The gateway as a feature of `roost run`: start, stop, health.

It hosts what other features contribute for clients: their WebSocket methods
(``gateway_methods``) and HTTP routes (``http_routes``), gathered when it starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from roost.errors import StartupError
from roost.features.contract import Feature
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
from roost.gateway.state import ClientChannelFactory, GatewayState

if TYPE_CHECKING:
    from roost.bus.dispatcher import Channel
    from roost.ports import CorePorts

log = logging.getLogger(__name__)

CLOSE_CONNECTIONS_TIMEOUT_S = 5.0


class GatewayService(Feature):
    """WebSocket + HTTP API on ``gateway.host:gateway.port``.

    The ``ws`` channel is wired in with the App (``channels``), before it starts, so
    replies a previous run left for WebSocket clients wait for them
    (``RecipientOffline``) instead of finding no channel. It is built by
    ``client_channel`` (``roost.channels.websocket.WebSocketChannel``, handed in by
    ``roost.builtin_features.gateway_feature``) over the gateway's connections.
    """

    name = "gateway"

    def __init__(self, core: CorePorts, client_channel: ClientChannelFactory) -> None:
        self.core = core
        self.config = core.settings.gateway
        self.methods = MethodRegistry()
        register_builtin(self.methods)
        self._hosted = False
        clients = ConnectionRegistry()
        self.metrics = GatewayMetrics(core, lambda: clients.count)
        self.channel = client_channel(clients, core.outbox)
        self.state = GatewayState(
            core, self.config, self.methods, self.metrics, clients, self.channel
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
        return str(token_path(self.core.settings.home))

    @property
    def connections(self) -> int:
        return self.state.clients.count

    @property
    def _url_host(self) -> str:
        host = self.config.host
        return f"[{host}]" if ":" in host and not host.startswith("[") else host

    def channels(self) -> Sequence[Channel]:
        return [self.channel]

    def _host_methods(self) -> None:
        """Add what the other features offer clients (the scheduler's ``jobs.*``), once."""
        if not self._hosted:
            for method in self.core.gateway_methods():
                self.methods.register(method.name, method.params, method.handler)
            self._hosted = True

    async def start(self) -> None:
        self._host_methods()
        routes = self.core.http_routes()  # Telegram's webhook, …
        token = await self._token()
        self.state.stopping.clear()
        config = self.config
        limiter = FailureLimiter(
            config.auth_failures_per_minute, config.auth_failures_per_minute_total
        )
        guard = BrowserGuard(config.host, config.allowed_hosts, config.allowed_origins)
        server = HttpServer(
            build_app(self.state, token, limiter, guard, routes),
            self.config.host,
            self.config.port,
            self.config.max_frame_bytes,
        )
        self.port = await server.start()
        self._server = server
        self.metrics.start()
        settings = self.core.settings
        endpoint = Endpoint(
            ws_url=self.ws_url,
            http_url=self.http_url,
            pid=os.getpid(),
            config_path=str(settings.config_path) if settings.config_path else None,
            config_sha256=settings.config_sha256,
        )
        await asyncio.to_thread(write_endpoint, settings.home, endpoint)
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
            secret = await asyncio.to_thread(ensure_token_file, self.core.settings.home)
            where = f"{token_path(self.core.settings.home)} (delete it to get a new one)"
        else:
            where = "gateway.token"
        if not is_loopback(self.config.host) and len(secret) < MIN_EXPOSED_TOKEN_CHARS:
            raise StartupError(weak_token_message(self.config.host, where))
        return secret

    async def stop(self) -> None:
        self.state.stopping.set()
        self.metrics.stop()
        if self._wrote_endpoint:
            await asyncio.to_thread(remove_endpoint, self.core.settings.home)
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
