"""One request's turn through the inbox: waited for whole, or streamed as it comes.

The turn is the router's, not the request's: a client that goes away (or a
timeout) stops the waiting, never the turn, which is stored and finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from roost.bus.events import Event, session_topic
from roost.bus.router import RouterStopped
from roost.openai_api.wire import ChunkWriter, error_body, sse

if TYPE_CHECKING:
    from roost.agents.turn import TurnResult
    from roost.bus.envelope import Envelope
    from roost.ports import CorePorts

log = logging.getLogger(__name__)

SHUTTING_DOWN_MESSAGE = "Roost is shutting down; try again in a moment"
KEEPALIVE_S = 15.0
"""An SSE comment this often while a turn is silent (tools running), so proxies and
clients that give up on idle connections do not."""


class StoppedWaiting(Exception):
    """Roost stops: the answer will not come through this request."""


class TurnRunner:
    def __init__(self, core: CorePorts, stopping: asyncio.Event) -> None:
        self._core = core
        self._stopping = stopping

    async def ask(self, envelope: Envelope) -> TurnResult:
        """Submit and wait for the result; ``StoppedWaiting`` if Roost stops first."""
        if self._stopping.is_set():
            raise StoppedWaiting(SHUTTING_DOWN_MESSAGE)
        return await self._until_stopping(
            asyncio.ensure_future(self._core.inbox.ask(envelope, None))
        )

    async def _until_stopping(self, ask: asyncio.Future[TurnResult]) -> TurnResult:
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            either: set[asyncio.Future[Any]] = {ask, stopping}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not ask.done():
                ask.cancel()  # the waiting, not the turn (Router.ask shields it)
            await asyncio.gather(ask, stopping, return_exceptions=True)
        if ask.cancelled():
            raise StoppedWaiting(SHUTTING_DOWN_MESSAGE)
        try:
            return ask.result()
        except RouterStopped as exc:
            raise StoppedWaiting(str(exc)) from None

    async def stream(self, envelope: Envelope, writer: ChunkWriter) -> AsyncIterator[bytes]:
        """SSE chunks: the text as the agent writes it, then the end (and usage)."""
        deltas: asyncio.Queue[str] = asyncio.Queue()

        def on_event(event: Event) -> None:
            # The envelope's id is set when it is stored, before its turn starts.
            if event.name == "chat.delta" and event.data.get("message_id") == envelope.id:
                deltas.put_nowait(str(event.data.get("text", "")))

        unsubscribe = self._core.events.subscribe(
            session_topic(envelope.agent, envelope.session), on_event
        )
        ask = asyncio.ensure_future(self.ask(envelope))
        try:
            yield writer.role()
            streamed = False
            async for piece in _pieces(deltas, ask):
                streamed = streamed or bool(piece)
                yield writer.text(piece) if piece else b": keep-alive\n\n"
            try:
                result = ask.result()
            except StoppedWaiting as exc:
                yield _failed(str(exc), "shutting_down")
                return
            except Exception:
                # The headers are sent: the error goes in the stream, in OpenAI's shape.
                log.exception("openai: the streamed turn of message %d failed", envelope.id)
                yield _failed("internal error (see the server log)", "internal")
                return
            if not streamed and result.text:
                yield writer.text(result.text)  # e.g. an error, or a provider that does not stream
            yield writer.finish(result)
        finally:
            unsubscribe()
            if not ask.done():
                ask.cancel()  # the client left: the turn goes on and is stored
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ask


def _failed(message: str, code: str) -> bytes:
    return sse(error_body(message, "server_error", code)) + b"data: [DONE]\n\n"


async def _pieces(
    deltas: asyncio.Queue[str], ask: asyncio.Future[TurnResult]
) -> AsyncIterator[str]:
    """Text deltas until the turn ends (all of them: they are published before its
    result); an empty string when nothing came for ``KEEPALIVE_S``."""
    while True:
        while not deltas.empty():
            yield deltas.get_nowait()
        if ask.done():
            return
        getter = asyncio.ensure_future(deltas.get())
        either: set[asyncio.Future[Any]] = {getter, ask}
        try:
            done, _ = await asyncio.wait(
                either, timeout=KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not getter.done():
                getter.cancel()
        if getter in done:
            yield getter.result()
        elif not done:
            yield ""
