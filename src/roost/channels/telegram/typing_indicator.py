""" "typing…" in a chat while one of its turns runs.

Telegram shows a chat action for about five seconds, so it is sent when a turn in
a Telegram chat's session starts (``agents`` topic, ``turn.started``) and every
``INTERVAL_S`` until that turn finishes. Best effort: a failed chat action is not
retried, and a turn that never reports its end stops showing after ``MAX_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from telegram.error import TelegramError

from roost.bus.events import AGENTS, Event, EventHub
from roost.channels.telegram.chats import ChatRef, parse_session

log = logging.getLogger(__name__)

INTERVAL_S = 4.0
MAX_S = 600.0

SendAction = Callable[[ChatRef], Awaitable[None]]
MayShow = Callable[[ChatRef], Awaitable[bool]]


class TypingIndicator:
    def __init__(
        self, events: EventHub, send: SendAction, may_show: MayShow, interval_s: float = INTERVAL_S
    ) -> None:
        self._events = events
        self._send = send
        self._may_show = may_show
        self.interval_s = interval_s
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self._events.subscribe(AGENTS, self._on_event)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _on_event(self, event: Event) -> None:
        message_id = event.data.get("message_id")
        if not isinstance(message_id, int):
            return
        if event.name == "turn.finished":
            task = self._tasks.pop(message_id, None)
            if task is not None:
                task.cancel()
            return
        if event.name != "turn.started" or message_id in self._tasks:
            return
        chat = parse_session(str(event.data.get("session") or ""))
        if chat is None:
            return
        task = asyncio.create_task(self._show(chat), name=f"telegram-typing:{chat.key}")
        self._tasks[message_id] = task
        task.add_done_callback(lambda done: self._forget(message_id, done))

    def _forget(self, message_id: int, task: asyncio.Task[None]) -> None:
        if self._tasks.get(message_id) is task:
            del self._tasks[message_id]

    async def _show(self, chat: ChatRef) -> None:
        try:
            if not await self._may_show(chat):
                return
            loop = asyncio.get_running_loop()
            deadline = loop.time() + MAX_S
            while loop.time() < deadline:
                with contextlib.suppress(TelegramError, OSError):
                    await self._send(chat)
                await asyncio.sleep(self.interval_s)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("telegram: the typing indicator for %s failed", chat.key)
