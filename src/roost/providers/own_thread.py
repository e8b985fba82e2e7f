"""Loading work (an SDK import, the price data) in a thread that nothing waits for at exit.

``asyncio.to_thread`` runs on the loop's default executor, and ``asyncio.run`` joins
that executor's threads once its main coroutine has ended. A `roost run` stopped
during its warm-up would then wait for an SDK import it will never use (a second or
more of CPU, several on a busy machine) before it can reach its ``os._exit``. Each call
here gets an executor of its own, shut down as soon as the job is handed to it: its one
thread ends when the job does, ``asyncio.run`` does not join it, and ``os._exit`` does
not wait for it. Abandoning such a job is safe because it only loads: it writes
nothing the next start relies on (the prices' day file is written whole, by rename).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["in_own_thread"]

T = TypeVar("T")


async def in_own_thread(function: Callable[[], T], name: str = "roost-load") -> T:
    """``function()`` in a new worker thread, as ``asyncio.to_thread`` would run it (the
    caller's context variables included), but one that a stopping process leaves behind.

    Cancelling the await abandons the result; the thread still runs ``function`` to its
    end unless the process exits first.
    """
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    try:
        context = contextvars.copy_context()
        future = asyncio.get_running_loop().run_in_executor(executor, context.run, function)
    finally:
        executor.shutdown(wait=False)  # the job runs; the thread ends after it
    return await future
