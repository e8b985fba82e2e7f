"""`roost chat` without a terminal (a pipe, a script): one message per line of stdin,
each reply printed plainly; the exit code tells whether every message was answered."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from typing import TYPE_CHECKING

from roost.cli.ask_cmd import EXIT_INTERRUPTED
from roost.cli.common import EXIT_FAILED

if TYPE_CHECKING:
    from roost.cli.chat.conversation import Chat


async def run_piped(room: Chat) -> int:
    """Handle stdin's lines until it ends; the exit code."""
    lines = _stdin_lines()
    failed = False
    while True:
        line = await lines.get()
        if line is None:
            break
        if not await room.handle(line.rstrip("\r\n")):
            break
        if room.interrupted:
            return EXIT_INTERRUPTED
        if room.fatal is not None:
            return EXIT_FAILED
        failed = failed or room.last_failed
    return EXIT_FAILED if failed else 0


def _stdin_lines() -> asyncio.Queue[str | None]:
    """stdin's lines, read by a daemon thread (which never holds up the exit)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may be gone already
                loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="chat-stdin", daemon=True).start()
    return queue
