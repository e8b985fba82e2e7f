"""The open WebSocket connections, by client id (one client may have several)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roost.gateway.connection import Connection


class ConnectionRegistry:
    def __init__(self) -> None:
        self._by_client: dict[str, set[Connection]] = {}
        self._running: set[asyncio.Task[None]] = set()

    def add(self, connection: Connection) -> None:
        self._by_client.setdefault(connection.client_id, set()).add(connection)

    def remove(self, connection: Connection) -> None:
        """Forget it (idempotent): called as soon as it starts closing."""
        connections = self._by_client.get(connection.client_id)
        if connections is None:
            return
        connections.discard(connection)
        if not connections:
            del self._by_client[connection.client_id]

    def of(self, client_id: str) -> list[Connection]:
        """The open connections of a client."""
        return [c for c in self._by_client.get(client_id, ()) if not c.closing]

    def all(self) -> list[Connection]:
        return [c for connections in self._by_client.values() for c in connections]

    @property
    def count(self) -> int:
        return sum(len(connections) for connections in self._by_client.values())

    def track(self, task: asyncio.Task[None]) -> None:
        """A connection's serving task, so shutdown can wait for it to end."""
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def close_all(self, code: int, reason: str, timeout_s: float) -> None:
        """Close every connection and wait (up to ``timeout_s``) until they are done."""
        for connection in self.all():
            connection.close(code, reason)
        running = list(self._running)
        if running:
            await asyncio.wait(running, timeout=timeout_s)
