"""The events a gateway pushes to its clients, as `GatewayClient` hands them out."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

FINAL_EVENTS = ("chat.reply", "chat.error")
"""The events that end a turn: no more events for that message come after one."""


@dataclass(frozen=True)
class GatewayEvent:
    name: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def message_id(self) -> int | None:
        value = self.data.get("message_id")
        return value if isinstance(value, int) else None


class SeenDeliveries:
    """The delivery ids a client has already handed out, so a repeat is dropped.

    The gateway marks a reply delivered only after writing it; a crash in between sends it
    again after the restart, with the same ``delivery_id`` (docs/architecture.md). Kept
    across reconnects of one client; bounded, because ids only repeat soon after a restart.
    """

    def __init__(self, limit: int = 2048) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def first_time(self, event: GatewayEvent) -> bool:
        """True unless ``event`` carries a delivery id seen before (then it is a repeat)."""
        delivery_id = event.data.get("delivery_id")
        if delivery_id is None:
            return True
        key = str(delivery_id)
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self._limit:
            self._ids.popitem(last=False)
        return True
