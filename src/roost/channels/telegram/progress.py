"""Optional (``telegram.progress: true``): one status message per turn, edited as tools run.

When a turn in a Telegram chat's session runs its first tool, the chat gets
"⏳ Working: read_file"; each further tool is added by editing that message (at
most one edit per ``MIN_EDIT_INTERVAL_S``), and when the turn ends it becomes
"✓ Done: …". The answer itself is sent as a new message, through the outbox.
Turns that use no tool show nothing. Best effort: a failed edit is not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import Bot
from telegram.error import TelegramError

from roost.bus.events import AGENTS, Event, EventHub, session_topic
from roost.channels.telegram.chats import ChatRef, parse_session

log = logging.getLogger(__name__)

MIN_EDIT_INTERVAL_S = 1.0
MAX_TOOLS_SHOWN = 12

MayShow = Callable[[ChatRef], Awaitable[bool]]


@dataclass
class _Turn:
    chat: ChatRef
    tools: list[str] = field(default_factory=list)
    finished: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    unsubscribe: Callable[[], None] | None = None
    task: asyncio.Task[None] | None = None

    def text(self) -> str:
        shown = self.tools[-MAX_TOOLS_SHOWN:]
        more = len(self.tools) - len(shown)
        names = ("… " if more else "") + " → ".join(shown)
        return f"✓ Done: {names}" if self.finished else f"⏳ Working: {names}"


class ProgressReporter:
    def __init__(self, events: EventHub, bot: Callable[[], Bot], may_show: MayShow) -> None:
        self._events = events
        self._bot = bot
        self._may_show = may_show
        self._turns: dict[int, _Turn] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self._events.subscribe(AGENTS, self._on_turn)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        turns = list(self._turns.values())
        self._turns.clear()
        for turn in turns:
            if turn.unsubscribe:
                turn.unsubscribe()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _on_turn(self, event: Event) -> None:
        message_id = event.data.get("message_id")
        if not isinstance(message_id, int):
            return
        if event.name == "turn.finished":
            turn = self._turns.pop(message_id, None)
            if turn is not None:
                self._finish(turn)
            return
        chat = parse_session(str(event.data.get("session") or ""))
        if event.name != "turn.started" or chat is None or message_id in self._turns:
            return
        turn = self._turns[message_id] = _Turn(chat)
        topic = session_topic(str(event.data.get("agent")), str(event.data.get("session")))
        turn.unsubscribe = self._events.subscribe(
            topic, lambda tool_event: self._on_tool(turn, message_id, tool_event)
        )

    def _on_tool(self, turn: _Turn, message_id: int, event: Event) -> None:
        data = event.data
        if event.name != "chat.tool" or data.get("message_id") != message_id:
            return
        if data.get("phase") != "started":
            return
        turn.tools.append(str(data.get("tool")))
        turn.changed.set()
        if turn.task is None:
            turn.task = asyncio.create_task(self._show(turn), name="telegram-progress")
            self._tasks.add(turn.task)
            turn.task.add_done_callback(self._tasks.discard)

    def _finish(self, turn: _Turn) -> None:
        if turn.unsubscribe:
            turn.unsubscribe()
        turn.finished = True
        turn.changed.set()

    async def _show(self, turn: _Turn) -> None:
        try:
            if not await self._may_show(turn.chat):
                return
            message_id: int | None = None
            while True:
                await turn.changed.wait()
                turn.changed.clear()
                message_id = await self._render(turn, message_id)
                if turn.finished:
                    return
                await asyncio.sleep(MIN_EDIT_INTERVAL_S)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("telegram: showing progress in %s failed", turn.chat.key)

    async def _render(self, turn: _Turn, message_id: int | None) -> int | None:
        bot, chat, text = self._bot(), turn.chat, turn.text()
        with contextlib.suppress(TelegramError, OSError):
            if message_id is None:
                sent = await bot.send_message(chat.chat_id, text, message_thread_id=chat.thread_id)
                return sent.message_id
            await bot.edit_message_text(text, chat_id=chat.chat_id, message_id=message_id)
        return message_id
