"""Supervision for long-lived loops: log the crash, back off, start again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def supervise(
    name: str,
    loop: Callable[[], Awaitable[None]],
    *,
    initial_backoff: float = 0.5,
    max_backoff: float = 30.0,
    healthy_after: float = 60.0,
) -> None:
    """Run ``loop`` forever; restart it with exponential backoff when it raises.

    A loop that ran for ``healthy_after`` seconds before failing starts again from
    the initial backoff. Cancellation stops supervision; a loop that returns
    normally is finished.
    """
    backoff = initial_backoff
    while True:
        started = time.monotonic()
        try:
            await loop()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            if time.monotonic() - started >= healthy_after:
                backoff = initial_backoff
            log.exception("%s crashed; restarting in %.1fs", name, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)
