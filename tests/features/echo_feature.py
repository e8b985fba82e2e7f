"""A complete minimal feature: an ``echo`` channel with one tool (docs/features.md).

People "on" the channel are addresses ``echo:<who>``: ``say`` puts what they say into
an agent's inbox, and the agent's reply comes back through the outbox to the
channel's ``deliver``. The tool ``echo_note`` lets an agent write to ``echo:notes``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from roost.bus.dispatcher import Channel
from roost.bus.envelope import Delivery, Envelope, agent_address
from roost.features import Feature
from roost.ports import CorePorts
from roost.tools.registry import Tool, ToolContext


class NoteArgs(BaseModel):
    text: str = Field(min_length=1, description="The note")


class EchoChannel:
    """Delivers to ``echo:<who>`` by keeping the delivery (a real channel sends it)."""

    scheme = "echo"

    def __init__(self) -> None:
        self.delivered: asyncio.Queue[Delivery] = asyncio.Queue()

    async def deliver(self, delivery: Delivery) -> str | None:
        await self.delivered.put(delivery)
        return f"echo-{delivery.id}"  # the channel's own id, kept in the outbox row


class EchoFeature(Feature):
    name = "echo"

    def __init__(self, core: CorePorts) -> None:
        self.core = core  # the narrow ports: inbox, outbox, events, queries
        self.channel = EchoChannel()
        self.state = "stopped"

    def channels(self) -> Sequence[Channel]:
        return [self.channel]

    def tools(self) -> Sequence[Tool]:
        return [Tool("echo_note", "Write a note to the echo channel.", NoteArgs, self._note)]

    def health(self) -> dict[str, Any]:
        return {"state": self.state}

    async def start(self) -> None:
        self.state = "ok"

    async def stop(self) -> None:
        self.state = "stopped"

    async def say(self, who: str, text: str, agent: str = "assistant") -> Envelope:
        """``echo:<who>`` says ``text`` to ``agent``; stored before this returns."""
        return await self.core.inbox.submit(
            Envelope(
                sender=f"echo:{who}",
                recipient=agent_address(agent),
                session=f"echo:{who}",
                body=text,
                reply_to=f"echo:{who}",
            )
        )

    async def _note(self, context: ToolContext, args: NoteArgs) -> str:
        delivery = await self.core.outbox.queue(
            Delivery(target="echo:notes", sender=agent_address(context.agent), body=args.text)
        )
        return f"noted (delivery {delivery.id})"
