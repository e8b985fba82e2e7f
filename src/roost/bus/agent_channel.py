"""Deliveries addressed to agents become envelopes in their inbox.

The delivery's id is the envelope's dedup key: if the process dies after the
envelope was stored but before the delivery was marked, the redelivery finds the
envelope already there and does not run the turn twice.
"""

from __future__ import annotations

from roost.bus.envelope import Delivery, Envelope
from roost.bus.router import Router


class AgentChannel:
    scheme = "agent"

    def __init__(self, router: Router) -> None:
        self._router = router

    async def deliver(self, delivery: Delivery) -> str | None:
        envelope = await self._router.submit(
            Envelope(
                sender=delivery.sender,
                recipient=delivery.target,
                session=delivery.session or "main",
                body=delivery.body,
                reply_to=delivery.meta.get("then_reply_to"),
                depth=int(delivery.meta.get("depth", 0)),
                dedup_key=f"delivery:{delivery.id}",
            )
        )
        return str(envelope.id)
