"""One WebSocket connection: a reader, a bounded send queue drained by a writer task.

Everything the server sends — responses, live events, outbox deliveries — goes
through the queue, so publishers (agents, the dispatcher) never wait on a socket.
The queue is bounded in frames (``gateway.send_queue``) and in bytes
(``gateway.send_queue_bytes``); frames are encoded when queued, so the bytes are
known. Responses wait for room, and the reader reads no further request
meanwhile (backpressure: a client that does not read stops being read). An event
that does not fit, or a response that found no room within ``gateway.send_timeout_s``,
means the client cannot keep up: it is dropped (4408) instead of slowing anyone
down or growing the process. A frame queued with ``track=True`` comes with a future
that the writer resolves ``True`` once the frame was handed to the socket (``False``
if it never will be): the ``ws`` channel confirms deliveries with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from roost.bus.events import TRAFFIC, Event, EventHub
from roost.gateway.methods import CallContext, MethodRegistry
from roost.gateway.protocol import (
    BAD_REQUEST,
    CLOSE_SLOW_CONSUMER,
    INTERNAL,
    SLOW_CONSUMER,
    FrameError,
    encode,
    event_frame,
    parse_request,
    response_error,
)

if TYPE_CHECKING:
    from roost.ports import CorePorts

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 2.0
"""On a server-side close, how long queued frames get to go out first."""
CLOSE_TIMEOUT_S = 5.0
"""How long the final frames and the close frame get before the connection is abandoned."""


@dataclass
class _Outgoing:
    text: str
    size: int
    written: asyncio.Future[bool] | None = None

    def resolve(self, written: bool) -> None:
        if self.written is not None and not self.written.done():
            self.written.set_result(written)


@dataclass(frozen=True)
class SendStats:
    """What waits to be sent on a connection, and the most that ever did."""

    queued_frames: int
    queued_bytes: int
    peak_queued_bytes: int
    max_queued_bytes: int
    """The bound (``gateway.send_queue_bytes``); only a single larger frame goes past it."""


@dataclass(frozen=True)
class ConnectionDeps:
    core: CorePorts
    methods: MethodRegistry
    max_frame_bytes: int
    send_queue: int
    send_queue_bytes: int = 8 * 1024 * 1024
    send_timeout_s: float = 30.0


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
        self._hub: EventHub = deps.core.events
        self._on_closing = on_closing
        self._queue: deque[_Outgoing] = deque()
        self._queued_bytes = 0
        self._peak_bytes = 0
        self._queued = asyncio.Event()  # something waits: wakes the writer
        self._taken = asyncio.Event()  # the writer took a frame: wakes a waiting response
        self._idle = asyncio.Event()  # nothing waits: for the flush on close
        self._idle.set()
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

    @property
    def send_stats(self) -> SendStats:
        return SendStats(
            len(self._queue), self._queued_bytes, self._peak_bytes, self._deps.send_queue_bytes
        )

    # -- sending ---------------------------------------------------------------

    def send(self, frame: dict[str, Any], *, track: bool = False) -> asyncio.Future[bool] | None:
        """Queue ``frame``; never waits. ``None`` if the connection is closing (or now is)."""
        if self._closing:
            return None
        item = self._encode(frame, track)
        if item is None:
            return None
        if not self._fits(item.size):
            self.close(
                CLOSE_SLOW_CONSUMER,
                f"more than {self._deps.send_queue} frames or {self._deps.send_queue_bytes} "
                "bytes waited to be sent",
            )
            return None
        self._put(item)
        return item.written

    def send_event(
        self, name: str, data: dict[str, Any], *, track: bool = False
    ) -> asyncio.Future[bool] | None:
        """``send`` an event frame (what the ``ws`` delivery channel sends)."""
        return self.send(event_frame(name, data), track=track)

    def drop_slow(self, reason: str) -> None:
        """Close as a client that does not read fast enough (4408)."""
        self.close(CLOSE_SLOW_CONSUMER, reason)

    async def _send_response(self, frame: dict[str, Any]) -> None:
        """Queue a response once there is room for it (the reader waits meanwhile)."""
        item = self._encode(frame, track=False)
        if item is None:
            item = self._encode(response_error(frame.get("id"), INTERNAL, "internal error"), False)
            assert item is not None
        timeout_s = self._deps.send_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                while not self._closing and not self._fits(item.size):
                    self._taken.clear()
                    await self._taken.wait()
        except TimeoutError:
            self.close(CLOSE_SLOW_CONSUMER, f"answers waited {timeout_s:g}s to be sent")
            return
        if not self._closing:
            self._put(item)

    def _encode(self, frame: dict[str, Any], track: bool) -> _Outgoing | None:
        try:
            text = encode(frame)
        except ValueError:  # NaN or an infinity: would be invalid JSON on the wire
            log.exception("gateway: a frame for client %s is not valid JSON", self._client_id)
            return None
        written = asyncio.get_running_loop().create_future() if track else None
        return _Outgoing(text, _utf8_size(text), written)

    def _fits(self, size: int) -> bool:
        """Room for a frame of ``size`` bytes; one frame always fits an empty queue."""
        if not self._queue:
            return True
        return (
            len(self._queue) < self._deps.send_queue
            and self._queued_bytes + size <= self._deps.send_queue_bytes
        )

    def _put(self, item: _Outgoing) -> None:
        self._queue.append(item)
        self._queued_bytes += item.size
        self._peak_bytes = max(self._peak_bytes, self._queued_bytes)
        self._queued.set()
        self._idle.clear()

    def _take(self) -> _Outgoing:
        item = self._queue.popleft()
        self._queued_bytes -= item.size
        if not self._queue:
            self._queued.clear()
        return item

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
        self._taken.set()  # a response waiting for room gives up
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
        while not self._closing:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self._send_response(
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
            await self._send_response(response_error(exc.request_id, exc.code, exc.message))
            return
        context = CallContext(self._deps.core, self)
        await self._send_response(await self._deps.methods.call(context, request))

    async def _write_loop(self) -> None:
        while True:
            await self._queued.wait()
            item = self._take()
            self._taken.set()
            try:
                await self.websocket.send({"type": "websocket.send", "text": item.text})
            except asyncio.CancelledError:
                item.resolve(False)
                raise
            except Exception as exc:
                item.resolve(False)
                log.debug("gateway: writing to client %s failed: %r", self._client_id, exc)
                self._stop.set()  # the client is gone; the reader sees it too
                return
            finally:
                if not self._queue:
                    self._idle.set()
            item.resolve(True)

    async def _finish(self, writer: asyncio.Task[None]) -> None:
        code = self._close_code
        final: list[dict[str, Any]] = []
        if code is not None and code != CLOSE_SLOW_CONSUMER and not writer.done():
            # A normal server-side close (shutdown): what is queued goes out first.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), FLUSH_TIMEOUT_S)
        elif code == CLOSE_SLOW_CONSUMER:
            message = f"{self._close_reason}; the connection is closed (reconnect and read faster)"
            final.append(event_frame("error", {"code": SLOW_CONSUMER, "message": message}))
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        self._fail_queued()
        if code is not None:
            await self._send_close(final, code)

    def _fail_queued(self) -> None:
        """Drop what was not sent (and with it the memory it held)."""
        while self._queue:
            self._take().resolve(False)
        self._idle.set()

    async def _send_close(self, final: list[dict[str, Any]], code: int) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                for frame in final:
                    await self.websocket.send({"type": "websocket.send", "text": encode(frame)})
                await self.websocket.close(code, self._close_reason)
        except Exception as exc:  # the client is gone or does not read: nothing more to do
            log.debug("gateway: closing client %s: %r", self._client_id, exc)


def _utf8_size(text: str) -> int:
    # Most frames are ASCII: len() is the size; only others pay for the encoding.
    return len(text) if text.isascii() else len(text.encode("utf-8", errors="surrogatepass"))
