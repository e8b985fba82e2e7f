"""The fake's HTTP side: a Starlette app served by uvicorn on 127.0.0.1 in a thread.

The server runs its own event loop in a background thread, so sync and async
tests, and python-telegram-bot under test, talk to it exactly as to the real API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.telegram.incoming import Incoming
from tests.fakes.telegram.methods import BotApi
from tests.fakes.telegram.records import ApiError
from tests.fakes.telegram.state import DEFAULT_BOT_USERNAME, DEFAULT_TOKEN

_START_TIMEOUT_S = 10.0


class FakeTelegram(Incoming):
    """A scripted, recording fake of the Telegram Bot API on 127.0.0.1.

    Point python-telegram-bot at it with ``base_url=fake.bot_base_url`` and
    ``base_file_url=fake.file_base_url``.
    """

    def __init__(
        self, token: str = DEFAULT_TOKEN, *, port: int = 0, bot_username: str = DEFAULT_BOT_USERNAME
    ) -> None:
        super().__init__(token, bot_username)
        self._port = port
        self.url = ""
        self.bot_base_url = ""
        self.file_base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._change = asyncio.Event()
        self._api = BotApi(self, lambda: self._change)

    def start(self) -> FakeTelegram:
        """Bind 127.0.0.1 (port 0 = any free port), start serving, return self."""
        if self._server is not None:
            return self
        self.stopping.clear()
        sock = self._sock = _listening_socket(self._port)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.bot_base_url = f"{self.url}/bot"
        self.file_base_url = f"{self.url}/file/bot"
        config = uvicorn.Config(
            self._app(),
            loop="asyncio",
            http="h11",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = self._server = uvicorn.Server(config)
        thread = self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(server, sock),), name="fake-telegram", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("fake Telegram server failed to start")
            time.sleep(0.005)
        return self

    async def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        self._change = asyncio.Event()  # bound to this loop, not to a previous run's
        self._loop = asyncio.get_running_loop()
        await server.serve(sockets=[sock])

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, thread, sock = self._server, self._thread, self._sock
        self._server = self._thread = self._sock = None
        self.stopping.set()  # pending long polls and stalls answer at once
        self.changed()
        if server is not None:
            server.should_exit = True
            server.force_exit = True
        if thread is not None:
            thread.join(timeout=5)
        if sock is not None:
            sock.close()
        self._loop = None

    def changed(self) -> None:
        """Wake every waiting long poll; callable from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        # Replace the event rather than clear it, so each waiter sees the set it waited on.
        self._change.set()
        self._change = asyncio.Event()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/bot{token}/{method}", self._method, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._download, methods=["GET"]),
            ]
        )

    async def _method(self, request: Request) -> Response:
        token, method = request.path_params["token"], request.path_params["method"]
        try:
            params = await _read_params(request)
        except ApiError as error:
            return JSONResponse(error.body(), status_code=error.status)
        call = self.record_call(method, params, token)
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            fault = self.take_fault(method)
            if fault is not None:
                raise fault
            result = await self._api.call(method, params)
        except ApiError as error:
            self.finish_call(call, error.status, error.description)
            return JSONResponse(error.body(), status_code=error.status)
        self.finish_call(call, 200, None)
        return JSONResponse({"ok": True, "result": result})

    async def _download(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse(ApiError(401, "Unauthorized").body(), status_code=401)
        path = request.path_params["file_path"]
        with self.lock:
            stored = next((f for f in self.files.values() if f.file_path == path), None)
        if stored is None:
            return JSONResponse(ApiError(404, "Not Found").body(), status_code=404)
        return Response(stored.content, media_type="application/octet-stream")


async def _read_params(request: Request) -> dict[str, Any]:
    """Query string, then a JSON or urlencoded body on top, as the Bot API accepts."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if not body:
        return params
    if "application/json" in content_type:
        try:
            decoded = json.loads(body)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON request body") from None
        if isinstance(decoded, dict):
            params.update(decoded)
    elif "application/x-www-form-urlencoded" in content_type:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    elif "multipart/form-data" in content_type:
        raise ApiError(400, "Bad Request: the fake does not accept file uploads")
    return params


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this. Without it, uvicorn's separate header and body writes
    # meet the client's delayed ACK and every request takes ~40 ms instead of ~1 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


@contextlib.contextmanager
def running_fake_telegram(
    token: str = DEFAULT_TOKEN, *, port: int = 0, bot_username: str = DEFAULT_BOT_USERNAME
) -> Iterator[FakeTelegram]:
    """Start a :class:`FakeTelegram` for the duration of a ``with`` block."""
    fake = FakeTelegram(token, port=port, bot_username=bot_username).start()
    try:
        yield fake
    finally:
        fake.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT, after printing the URL on the first stdout line."""
    parser = argparse.ArgumentParser(description="Fake Telegram Bot API server on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the one valid bot token")
    parser.add_argument("--username", default=DEFAULT_BOT_USERNAME, help="the bot's username")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with running_fake_telegram(args.token, port=args.port, bot_username=args.username) as fake:
        print(fake.url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0
