"""A Starlette app served by uvicorn on 127.0.0.1, port 0, in the test's own event loop.

For the web tools' tests: a site to fetch (pages, redirects, big and binary bodies)
and a fake SearXNG. ``serving(app)`` yields the base URL (``http://127.0.0.1:<port>``).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

START_TIMEOUT_S = 10


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        http="h11",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:  # also on a failed start: the server task ends and the socket is closed
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        while not server.started:  # a polling loop with a deadline
            if task.done() or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError("the test web server did not start")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
