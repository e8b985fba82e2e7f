"""What the gateway's parts share: the core's ports, the config, the methods, the clients."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roost.gateway.connection import ConnectionDeps
from roost.gateway.methods import MethodRegistry

if TYPE_CHECKING:
    from roost.config.schema import GatewayConfig
    from roost.gateway.clients import ConnectionRegistry
    from roost.gateway.metrics import GatewayMetrics
    from roost.gateway.ws_channel import WsChannel
    from roost.ports import CorePorts


@dataclass
class GatewayState:
    core: CorePorts
    config: GatewayConfig
    methods: MethodRegistry
    metrics: GatewayMetrics
    clients: ConnectionRegistry
    channel: WsChannel
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
