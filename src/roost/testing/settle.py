"""Wait until a serving App has nothing left to do, instead of sleeping."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roost.app import App


async def settled(app: App, within: float = 10.0) -> None:
    """Return once no turn is running or waiting and the outbox's dispatcher is idle.

    The quiescent point to drain to before asserting that nothing else happened::

        await app.router.submit(duplicate)
        await settled(app)
        assert len(channel.delivered) == 1

    A reply delivered to an agent starts a turn, and a turn queues replies, so both
    are waited for until neither has anything left. Raises ``TimeoutError`` after
    ``within`` seconds. Deliveries waiting on a retry or an offline recipient keep the
    dispatcher busy: with a ``ManualClock``, advance it past their wait first.
    """
    async with asyncio.timeout(within):
        while True:
            await app.router.idle()
            await app.dispatcher.idle()
            if app.router.in_flight == 0 and app.router.waiting == 0:
                return
