"""The state of one `roost chat`: the connection (kept up across gateway restarts), the
agent and session talked to, and the running turn with the events that belong to it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roost.cli.chat.commands import run_command
from roost.client.errors import GatewayAuthError, GatewayCallError, GatewayError
from roost.client.events import FINAL_EVENTS, GatewayEvent
from roost.store.turn_status import TurnStatus

if TYPE_CHECKING:
    from roost.cli.chat.ui import Ui
    from roost.client.gateway_client import GatewayClient
    from roost.client.location import GatewayLocation


@dataclass
class _Turn:
    done: asyncio.Future[dict[str, Any] | None]
    message_id: int | None = None
    early: list[GatewayEvent] = field(default_factory=list)
    streamed: bool = False
    cancel_requested: bool = False


class Chat:
    """The state of one chat: the connection, the agent, the session, the running turn."""

    def __init__(
        self,
        client: GatewayClient,
        agent: str,
        session: str,
        ui: Ui,
        *,
        interactive: bool,
        relocate: Callable[[], GatewayLocation | None] | None = None,
    ) -> None:
        self.client = client
        self._relocate = relocate
        self.agent = agent
        self.session = session
        self.ui = ui
        self.interactive = interactive
        self.fatal: Exception | None = None
        self.interrupted = False
        self.last_failed = False
        self._turn: _Turn | None = None
        self._pump: asyncio.Task[None] | None = None
        self._stopping = False
        self._cancel_task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._connected.set()

    def start(self) -> None:
        self._pump = asyncio.create_task(self._pump_events(), name="chat-events")

    async def stop(self) -> None:
        self._stopping = True
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.close(), 2)

    async def handle(self, line: str) -> bool:
        """Act on one line; False when the user wants to leave."""
        text = line.strip()
        if not text:
            return True
        if text.startswith("/"):
            return await run_command(self, text)
        if await self.ready():
            await self.send(text)
        else:
            self.last_failed = True
        return True

    async def ready(self, wait_s: float = 60.0) -> bool:
        """Connected (waiting for a reconnect in progress), or False with the reason shown."""
        if not self._connected.is_set() and self.fatal is None:
            self.ui.dim("(waiting for the gateway to come back…)")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), wait_s)
        if self._connected.is_set():
            return True
        if self.fatal is None:  # (a fatal error was shown when it happened)
            self.ui.error("the gateway is not reachable: not sent")
        return False

    # -- turns ---------------------------------------------------------------------------

    async def send(self, text: str) -> None:
        loop = asyncio.get_running_loop()
        turn = _Turn(loop.create_future())
        self._turn = turn
        self.last_failed = False
        loop.add_signal_handler(signal.SIGINT, self._on_sigint)
        try:
            try:
                sent = await self.client.call(
                    "chat.send", {"agent": self.agent, "text": text, "session": self.session}
                )
            except GatewayCallError as exc:
                self.last_failed = True
                self.ui.error(exc.message or str(exc))
                return
            except GatewayError as exc:
                self.last_failed = True
                self.ui.error(f"{exc}: not sent")
                return
            message_id = sent.get("message_id")
            turn.message_id = message_id if isinstance(message_id, int) else -1
            early, turn.early = turn.early, []
            for event in early:
                self._route(event)
            if turn.cancel_requested:
                self._request_cancel()
            try:
                final = await turn.done
            except Exception as exc:  # the connection is gone for good
                self.last_failed = True
                self.fatal = exc
                return
            if final is not None:
                self.last_failed = final.get("status") != TurnStatus.OK
        finally:
            self._turn = None
            for event in turn.early:  # chat.send failed: what came meanwhile is shown now
                self._route(event)
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signal.SIGINT)

    def _on_sigint(self) -> None:
        turn = self._turn
        if turn is None:
            return
        if not self.interactive:
            self.interrupted = True
        if turn.cancel_requested:  # a second Ctrl+C: stop waiting, the reply comes later
            if not turn.done.done():
                self.ui.end_stream(turn.streamed)
                self.ui.dim("(not waiting for this answer any more)")
                turn.done.set_result(None)
            return
        turn.cancel_requested = True
        if turn.message_id is not None:
            self._request_cancel()

    def _request_cancel(self) -> None:
        async def cancel() -> None:
            try:
                await self.client.call(
                    "chat.cancel", {"agent": self.agent, "session": self.session}, wait_s=5
                )
            except GatewayError as exc:
                self.ui.error(f"could not cancel: {exc}")

        self.ui.end_stream(self._turn.streamed if self._turn else False)
        self.ui.dim("cancelling…")
        self._cancel_task = asyncio.create_task(cancel())

    # -- events ---------------------------------------------------------------------------

    async def _pump_events(self) -> None:
        while True:
            async for event in self.client.events():
                self._route(event)
            if self._stopping:
                return
            self._connected.clear()
            self.ui.error(f"{self.client.close_error}; reconnecting…")
            while True:
                try:
                    self.client = await self.client.reconnect(
                        within_s=30.0, relocate=self._relocate
                    )
                    break
                except GatewayAuthError as exc:
                    self._give_up(exc)
                    return
                except GatewayError as exc:
                    if not self.interactive:
                        self._give_up(exc)
                        return
            self._connected.set()
            self.ui.dim(f"reconnected to {self.client.url}")
            if self._turn is not None:
                with contextlib.suppress(GatewayError):
                    topic = f"session:{self.agent}:{self.session}"
                    await self.client.call("subscribe", {"topics": [topic]})

    def _give_up(self, exc: Exception) -> None:
        self.fatal = exc
        self._connected.clear()
        self.ui.error(f"{exc}; giving up")
        if self._turn is not None and not self._turn.done.done():
            self._turn.done.set_exception(exc)

    def _route(self, event: GatewayEvent) -> None:
        turn = self._turn
        if turn is not None and turn.message_id is None:
            turn.early.append(event)  # chat.send has not answered yet
            return
        if turn is not None and event.message_id == turn.message_id:
            if event.name == "chat.delta":
                turn.streamed = True
                self.ui.delta(str(event.data.get("text", "")))
            elif event.name == "chat.restart":
                self.ui.restart()
            elif event.name == "chat.tool":
                self.ui.tool(event.data)
            elif event.name in FINAL_EVENTS:
                self._show_final(event, turn.streamed)
                if not turn.done.done():
                    turn.done.set_result(event.data)
            return
        if event.name == "chat.message":  # e.g. an agent's send_message to this client
            self.ui.dim(f"message from {event.data.get('from', '?')}:")
            self.ui.info(str(event.data.get("text", "")))
        elif event.name in FINAL_EVENTS:  # a reply to an earlier message (e.g. after a reconnect)
            self.ui.dim(
                f"reply from {event.data.get('agent', '?')} to an earlier message "
                f"(session {event.data.get('session', '?')}):"
            )
            self._show_final(event, False)

    def _show_final(self, event: GatewayEvent, streamed: bool) -> None:
        if event.name == "chat.reply" and event.data.get("status", TurnStatus.OK) == TurnStatus.OK:
            self.ui.reply(event.data, streamed)
        else:
            self.ui.end_stream(streamed)
            status = event.data.get("status", TurnStatus.ERROR)
            self.ui.error(f"{status}: {event.data.get('text', '')}")
