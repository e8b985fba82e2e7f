"""One WebSocket connection: a reader, a bounded send queue drained by a writer task.

Everything the server sends — responses, live events, outbox deliveries — goes
through the queue, so publishers (agents, the dispatcher) never wait on a socket.
A connection whose queue overflows cannot keep up: it is dropped (4408) instead of
slowing anyone down. A frame queued with ``track=True`` comes with a future that
the writer resolves ``True`` once the frame was handed to the socket (``False`` if
it never will be): the ``ws`` channel confirms deliveries with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from roost.bus.events import TRAFFIC, Event, EventHub
from roost.gateway.methods import CallContext, MethodRegistry
from roost.gateway.protocol import (
    BAD_REQUEST,
    CLOSE_SLOW_CONSUMER,
    SLOW_CONSUMER,
    FrameError,
    encode,
    event_frame,
    parse_request,
    response_error,
)

if TYPE_CHECKING:
    from roost.app import App

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 2.0
"""On a server-side close, how long queued frames get to go out first."""
CLOSE_TIMEOUT_S = 5.0
"""How long the final frames and the close frame get before the connection is abandoned."""


@dataclass
class _Outgoing:
    frame: dict[str, Any]
    written: asyncio.Future[bool] | None = None

    def resolve(self, written: bool) -> None:
        if self.written is not None and not self.written.done():
            self.written.set_result(written)


@dataclass(frozen=True)
class ConnectionDeps:
    app: App
    methods: MethodRegistry
    max_frame_bytes: int
    send_queue: int


class Connection:
    def __init__(
        self,
        websocket: WebSocket,
        client_id: str,
        deps: ConnectionDeps,
        on_closing: Callable[[Connection], None],
    ) -> None:
        self.websocket = websocket
        self._client_id = client_id
        self._deps = deps
        self._hub: EventHub = deps.app.events
        self._on_closing = on_closing
        self._queue: asyncio.Queue[_Outgoing] = asyncio.Queue(maxsize=deps.send_queue)
        self._subscriptions: dict[str, Callable[[], None]] = {}
        self._stop = asyncio.Event()
        self._closing = False
        self._close_code: int | None = None
        self._close_reason = ""

    @property
    def client_id(self) -> str:
        return self._client_id

    @property
    def topics(self) -> list[str]:
        return sorted(self._subscriptions)

    @property
    def closing(self) -> bool:
        return self._closing

    # -- sending ---------------------------------------------------------------

    def send(self, frame: dict[str, Any], *, track: bool = False) -> asyncio.Future[bool] | None:
        """Queue ``frame``; never waits. ``None`` if the connection is closing (or now is)."""
        if self._closing:
            return None
        if self._queue.full():
            self.close(CLOSE_SLOW_CONSUMER, "slow consumer")
            return None
        written = asyncio.get_running_loop().create_future() if track else None
        self._queue.put_nowait(_Outgoing(frame, written))
        return written

    def close(self, code: int, reason: str) -> None:
        """Start closing from the server side; returns at once (``run`` does the rest)."""
        if self._closing:
            return
        if code == CLOSE_SLOW_CONSUMER:
            log.warning(
                "gateway: dropping client %s: it does not read fast enough (%s)",
                self._client_id,
                reason,
            )
        self._close_code, self._close_reason = code, reason
        self._begin_closing()

    def _begin_closing(self) -> None:
        self._closing = True
        self._stop.set()
        self._unsubscribe_all()
        self._on_closing(self)

    # -- subscriptions ---------------------------------------------------------

    def subscribe(self, topic: str) -> None:
        if topic not in self._subscriptions and not self._closing:
            self._subscriptions[topic] = self._hub.subscribe(topic, self._on_event)

    def unsubscribe(self, topic: str) -> None:
        unsubscribe = self._subscriptions.pop(topic, None)
        if unsubscribe is not None:
            unsubscribe()

    def _unsubscribe_all(self) -> None:
        for topic in list(self._subscriptions):
            self.unsubscribe(topic)

    def _on_event(self, event: Event) -> None:
        name = f"{TRAFFIC}.{event.name}" if event.topic == TRAFFIC else event.name
        self.send(event_frame(name, event.data))

    # -- running ---------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until the client leaves or the server closes it."""
        writer = asyncio.create_task(self._write_loop(), name=f"ws-write:{self._client_id}")
        reader = asyncio.create_task(self._read_loop(), name=f"ws-read:{self._client_id}")
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({reader, stop}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                log.error(
                    "gateway: reading from client %s failed",
                    self._client_id,
                    exc_info=reader.exception(),
                )
        finally:
            if not self._closing:
                self._begin_closing()
            for task in (reader, stop):
                task.cancel()
            await asyncio.gather(reader, stop, return_exceptions=True)
            await self._finish(writer)

    async def _read_loop(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self.send(
                    response_error(
                        None, BAD_REQUEST, "binary frames are not supported: send JSON text"
                    )
                )
                continue
            await self._handle(text)

    async def _handle(self, text: str) -> None:
        try:
            request = parse_request(text, self._deps.max_frame_bytes)
        except FrameError as exc:
            self.send(response_error(exc.request_id, exc.code, exc.message))
            return
        context = CallContext(self._deps.app, self)
        self.send(await self._deps.methods.call(context, request))

    async def _write_loop(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self.websocket.send({"type": "websocket.send", "text": encode(item.frame)})
            except asyncio.CancelledError:
                item.resolve(False)
                raise
            except Exception as exc:
                item.resolve(False)
                log.debug("gateway: writing to client %s failed: %r", self._client_id, exc)
                self._stop.set()  # the client is gone; the reader sees it too
                return
            finally:
                self._queue.task_done()
            item.resolve(True)

    async def _finish(self, writer: asyncio.Task[None]) -> None:
        code = self._close_code
        final: list[dict[str, Any]] = []
        if code is not None and code != CLOSE_SLOW_CONSUMER and not writer.done():
            # A normal server-side close (shutdown): what is queued goes out first.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), FLUSH_TIMEOUT_S)
        elif code == CLOSE_SLOW_CONSUMER:
            final.append(
                event_frame(
                    "error",
                    {
                        "code": SLOW_CONSUMER,
                        "message": f"more than {self._deps.send_queue} frames waited to be "
                        "sent; the connection is closed (reconnect and read faster)",
                    },
                )
            )
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        self._fail_queued()
        if code is not None:
            await self._send_close(final, code)

    def _fail_queued(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait().resolve(False)
            self._queue.task_done()

    async def _send_close(self, final: list[dict[str, Any]], code: int) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                for frame in final:
                    await self.websocket.send({"type": "websocket.send", "text": encode(frame)})
                await self.websocket.close(code, self._close_reason)
        except Exception as exc:  # the client is gone or does not read: nothing more to do
            log.debug("gateway: closing client %s: %r", self._client_id, exc)
