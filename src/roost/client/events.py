"""The events a gateway pushes to its clients, as `GatewayClient` hands them out."""

from __future__ import annotations

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
