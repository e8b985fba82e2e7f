"""One turn run by the gateway inside `roost run`, as `roost ask` asks it: send the
message, stream its events, follow it across a reconnect, cancel it on Ctrl+C.

Errors come back as exceptions whose message is for the user (`TurnFailed`), and
`NotConnected` when nothing was sent, so the caller may still run the turn itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Any

from roost.client.errors import GatewayAuthError, GatewayCallError, GatewayError
from roost.client.events import FINAL_EVENTS, GatewayEvent
from roost.client.gateway_client import GatewayClient, client_id
from roost.client.location import GatewayLocation
from roost.client.render import StreamPrinter

Relocate = Callable[[], GatewayLocation | None]
Reply = tuple[dict[str, Any], bool]
"""The final event's data, and whether its text was already streamed to stdout."""


class NotConnected(Exception):
    """The gateway could not be reached before anything was sent: run in-process."""


class TurnFailed(Exception):
    """The turn cannot be asked or followed through the gateway; the message says why."""


async def remote_turn(
    location: GatewayLocation,
    relocate: Relocate | None,
    agent: str,
    message: str,
    session: str,
    stream: bool,
    planner: bool = False,
) -> Reply | None:
    """The turn's final event data and whether text was streamed; None if interrupted.
    ``planner``: the turn runs on the agent's planner model (chat.send's ``planner``)."""
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    try:
        turn = _RemoteTurn(
            await _connect(location), agent, session, relocate, interrupted, planner=planner
        )
        try:
            if interrupted.is_set():
                return None  # nothing was sent yet
            message_id = await turn.send(message)
            return await turn.follow(message_id, StreamPrinter() if stream else None)
        finally:
            await turn.close()
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def _connect(location: GatewayLocation) -> GatewayClient:
    try:
        return await GatewayClient.connect(
            location.url, location.token, client_id("ask"), token_source=location.token_source
        )
    except GatewayAuthError as exc:
        # A refused token is a configuration problem: report it, not quietly run in-process.
        raise TurnFailed(f"{exc} (or run the turn in this process with --local)") from None
    except GatewayError as exc:
        raise NotConnected(str(exc)) from None


class _RemoteTurn:
    """The connection a turn is followed on, replaced when it drops."""

    def __init__(
        self,
        client: GatewayClient,
        agent: str,
        session: str,
        relocate: Relocate | None,
        interrupted: asyncio.Event,
        *,
        planner: bool = False,
    ) -> None:
        self.client = client
        self.agent = agent
        self.session = session
        self._relocate = relocate
        self._interrupted = interrupted
        self.planner = planner

    async def send(self, message: str) -> object:
        """Send the message; its ``message_id``, which tags the turn's events."""
        if self.client.agents and self.agent not in self.client.agents:
            raise TurnFailed(
                f"unknown agent '{self.agent}' (known: {', '.join(self.client.agents)})"
            )
        try:
            params: dict[str, Any] = {"agent": self.agent, "text": message, "session": self.session}
            if self.planner:
                params["planner"] = True
            sent = await self.client.call("chat.send", params)
        except GatewayCallError as exc:
            raise TurnFailed(exc.message or str(exc)) from None
        except GatewayError as exc:
            raise TurnFailed(str(exc)) from None
        return sent.get("message_id")

    async def follow(self, message_id: object, printer: StreamPrinter | None) -> Reply | None:
        """Show the turn's events until its final one; None if interrupted."""
        while True:
            if self._interrupted.is_set():
                await self._cancel(message_id)
                return None
            event = await self._next_event()
            if event is None:
                if not self._interrupted.is_set():
                    await self._reconnect()
                continue
            if event.message_id != message_id:
                continue
            if event.name in FINAL_EVENTS:
                return event.data, printer is not None and printer.wrote_text
            if printer is not None:
                printer.event(event.name, event.data)

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError, GatewayError, OSError):
            await asyncio.wait_for(self.client.close(), 2)

    async def _next_event(self) -> GatewayEvent | None:
        """The next event, or None when interrupted or the connection ended."""
        getter = asyncio.ensure_future(self.client.next_event())
        stopper = asyncio.ensure_future(self._interrupted.wait())
        done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if getter in done:
            return getter.result()
        getter.cancel()
        return None

    async def _cancel(self, message_id: object) -> None:
        """Stop the turn, and take its "interrupted" reply so it does not wait for us."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3.0
        try:
            await self.client.call(
                "chat.cancel", {"agent": self.agent, "session": self.session}, wait_s=3.0
            )
            while (left := deadline - loop.time()) > 0:
                event = await self.client.next_event(wait_s=left)
                if event is None or (event.message_id == message_id and event.name in FINAL_EVENTS):
                    return
        except (GatewayError, TimeoutError):
            return

    async def _reconnect(self) -> None:
        """After a dropped connection: the same client id again, and the session's events."""
        lost = self.client.close_error
        try:
            fresh = await self.client.reconnect(within_s=15.0, relocate=self._relocate)
        except GatewayError as exc:
            raise TurnFailed(
                f"{lost or exc}; the turn goes on in `roost run`: its answer will be in the "
                f"session's history (roost chat {self.agent} --session {self.session}, "
                "then /history)"
            ) from None
        with contextlib.suppress(GatewayError):  # else the reply still comes, unstreamed
            await fresh.call("subscribe", {"topics": [f"session:{self.agent}:{self.session}"]})
        self.client = fresh
