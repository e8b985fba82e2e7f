"""The ``ws`` channel: outbox deliveries to ``ws:<client id>`` become events on its sockets.

A delivery counts as delivered once its frame was written to at least one open
connection of that client. With none open, ``RecipientOffline`` keeps it in the
outbox until the client comes back: ``client_online`` (called when a connection
opens) asks the dispatcher to send what waits.

The gateway holds the sockets; this channel sees them only through ``ClientSockets``
(the gateway's connection registry is one), so it does not import the gateway, and
the composition root (``roost.builtin_features``) hands it to the gateway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from roost.agents.turn import TURN_FIELDS
from roost.bus.dispatcher import DeliveryError, RecipientOffline
from roost.bus.envelope import Delivery, split_address
from roost.store.turn_status import TurnStatus

if TYPE_CHECKING:
    from roost.ports import Outbox


class ClientSocket(Protocol):
    """One open WebSocket connection of a client, as the channel uses it."""

    def send_event(
        self, name: str, data: dict[str, Any], *, track: bool = False
    ) -> asyncio.Future[bool] | None:
        """Queue an event frame; with ``track``, a future that says whether it was
        written. None if the connection is closing (or now is)."""
        ...

    def drop_slow(self, reason: str) -> None:
        """Close it as a client that does not read fast enough."""
        ...


class ClientSockets(Protocol):
    """The open connections, by client id (one client may have several)."""

    def of(self, client_id: str) -> Sequence[ClientSocket]:
        """The open connections of a client."""
        ...


log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 30.0
"""A connection that has not taken a delivery's frame in this time is dropped as too slow."""

_COUNTS = frozenset(
    {
        "rounds",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost_usd",
        "duration_ms",
    }
)
"""Fields read as 0 from a reply queued before they were in its meta."""


class WebSocketChannel:
    scheme = "ws"

    def __init__(
        self,
        clients: ClientSockets,
        outbox: Outbox,
        write_timeout_s: float = WRITE_TIMEOUT_S,
    ) -> None:
        self._clients = clients
        self._outbox = outbox
        self._write_timeout_s = write_timeout_s

    async def deliver(self, delivery: Delivery) -> str | None:
        _, client = split_address(delivery.target)
        name, data = delivery_event(delivery)
        pending: dict[asyncio.Future[bool], ClientSocket] = {}
        for connection in self._clients.of(client):
            written = connection.send_event(name, data, track=True)
            if written is not None:
                pending[written] = connection
        if not pending:
            raise RecipientOffline(f"WebSocket client {client} is not connected")
        if await self._first_written(pending):
            return None
        if not self._clients.of(client):
            raise RecipientOffline(f"WebSocket client {client} disconnected before the reply")
        raise DeliveryError(f"could not write to WebSocket client {client}")

    async def client_online(self, client: str) -> None:
        """A connection of ``client`` opened: what waits for it goes out now."""
        await self._outbox.recipient_online(f"ws:{client}")

    async def close(self) -> None:
        """Nothing to release (kept for the service's shutdown sequence)."""

    async def _first_written(self, pending: dict[asyncio.Future[bool], ClientSocket]) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._write_timeout_s
        waiting = set(pending)
        while waiting:
            done, waiting = await asyncio.wait(
                waiting,
                timeout=max(0.0, deadline - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                break
            if any(future.result() for future in done):
                return True
        for future in waiting:
            pending[future].drop_slow(f"a reply waited {self._write_timeout_s:.0f}s to be sent")
        return False


def delivery_event(delivery: Delivery) -> tuple[str, dict[str, Any]]:
    """A turn's reply becomes chat.reply (or chat.error); anything else chat.message."""
    meta = delivery.meta
    if meta.get("kind") == "message" or "status" not in meta:
        return "chat.message", {
            "from": delivery.sender,
            "text": delivery.body,
            "delivery_id": delivery.id,
        }
    status = str(meta["status"])
    # The reply's meta is the turn's ``as_dict`` but its text, which is the body.
    data: dict[str, Any] = {
        key: meta.get(key, 0 if key in _COUNTS else None) for key in TURN_FIELDS
    }
    data |= {
        "status": status,
        "text": delivery.body,
        "message_id": meta.get("message_id"),
        "delivery_id": delivery.id,
    }
    if status != TurnStatus.OK:
        data["error"] = meta.get("error") or delivery.body
        return "chat.error", data
    return "chat.reply", data
