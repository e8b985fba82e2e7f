"""What the gateway's parts share: the core's ports, the config, the methods, the clients.

The ``ws`` delivery channel is not the gateway's: it lives in ``roost.channels.websocket``
and the gateway is handed a way to build it (``ClientChannelFactory``), so neither
package imports the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from roost.gateway.connection import ConnectionDeps
from roost.gateway.methods import MethodRegistry

if TYPE_CHECKING:
    from roost.bus.envelope import Delivery
    from roost.config.schema import GatewayConfig
    from roost.gateway.clients import ConnectionRegistry
    from roost.gateway.metrics import GatewayMetrics
    from roost.ports import CorePorts, Outbox


class ClientChannel(Protocol):
    """The delivery channel for ``ws:<client id>``, as the gateway uses it."""

    scheme: str

    async def deliver(self, delivery: Delivery) -> str | None:
        """Send ``delivery`` to one of the client's connections."""
        ...

    async def client_online(self, client: str) -> None:
        """A connection of ``client`` opened: what waits for it goes out now."""
        ...

    async def close(self) -> None: ...


ClientChannelFactory = Callable[["ConnectionRegistry", "Outbox"], ClientChannel]
"""Builds the ``ws`` channel over the gateway's connections (``WebSocketChannel`` is one)."""


@dataclass
class GatewayState:
    core: CorePorts
    config: GatewayConfig
    methods: MethodRegistry
    metrics: GatewayMetrics
    clients: ConnectionRegistry
    channel: ClientChannel
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def connection_deps(self) -> ConnectionDeps:
        return ConnectionDeps(
            core=self.core,
            methods=self.methods,
            max_frame_bytes=self.config.max_frame_bytes,
            send_queue=self.config.send_queue,
            send_queue_bytes=self.config.send_queue_bytes,
            send_timeout_s=self.config.send_timeout_s,
        )
