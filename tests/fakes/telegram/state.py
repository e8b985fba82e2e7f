"""What the fake Telegram holds: queued updates, chats and messages, files, recordings,
scripted faults. Nothing here knows about HTTP.

Thread-safe: tests inject and inspect from their thread (or event loop) while the
server answers from its own, so every access goes through one lock.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from tests.fakes.telegram.objects import StoredFile, chat_json, user_json
from tests.fakes.telegram.records import (
    TERMINATED_BY_OTHER_POLL,
    ApiError,
    ChatAction,
    RecordedCall,
    SentMessage,
)

DEFAULT_TOKEN = "123456789:AAFakeTelegramTokenForRoostTests000"
DEFAULT_BOT_USERNAME = "roost_test_bot"
_FIRST_UPDATE_ID = 100_001
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: TERMINATED_BY_OTHER_POLL,
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class TelegramState:
    """The fake's memory, and the test-side API to script and inspect it."""

    def __init__(self, token: str = DEFAULT_TOKEN, bot_username: str = DEFAULT_BOT_USERNAME):
        self.token = token
        self.bot_username = bot_username
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 1
        self.bot_user = user_json(
            self.bot_id, first_name="Roost Test Bot", username=bot_username, is_bot=True
        )
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self._update_ids = itertools.count(_FIRST_UPDATE_ID)
        self._file_ids = itertools.count(1)
        self.poll_generation = 0
        """Bumped by each getUpdates; never reset, so a poll left over from an earlier
        test is still terminated by the next one."""
        self._clear()

    def _clear(self) -> None:
        with self.lock:
            self.pending: list[dict[str, Any]] = []
            self.allowed_updates: frozenset[str] | None = None
            self.webhook_url = ""
            self.stall_until = 0.0
            self.chats: dict[int | str, dict[str, Any]] = {}
            self.messages: dict[tuple[int | str, int], dict[str, Any]] = {}
            self.files: dict[str, StoredFile] = {}
            self.stored_commands: dict[tuple[str, str], list[dict[str, str]]] = {}
            self._message_ids: defaultdict[int | str, itertools.count[int]] = defaultdict(
                lambda: itertools.count(1)
            )
            self._faults: dict[str, deque[ApiError]] = defaultdict(deque)
            self._html_rejections = 0
            self._confirmed = 0
            self._sent: list[SentMessage] = []
            self._calls: list[RecordedCall] = []
            self._chat_actions: list[ChatAction] = []

    def changed(self) -> None:
        """Wake waiting long polls; the server overrides this (the state has no loop)."""

    # ----- test side: scripting ---------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 500,
        description: str | None = None,
        *,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` ("*" = any method) with an error.

        A 429 carries ``parameters.retry_after`` (default 1 s; fractions are allowed and
        python-telegram-bot accepts them) and says "Too Many Requests: retry after N".
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if status == 429
                else _DEFAULT_DESCRIPTIONS.get(status, "Internal Server Error")
            )
        with self.lock:
            error = ApiError(status, description, retry_after=retry_after)
            self._faults[method.lower()].extend(error for _ in range(times))

    def reject_html_next(self, times: int = 1) -> None:
        """Make the next ``times`` formatted texts (any parse_mode) fail to parse."""
        with self.lock:
            self._html_rejections += times

    def stall_polling(self, seconds: float) -> None:
        """Hold every getUpdates request for ``seconds`` from now (0 releases them)."""
        with self.lock:
            self.stall_until = time.monotonic() + seconds
        self.changed()

    def reset(self) -> None:
        """Forget updates, chats, recordings, faults, stalls. Update ids keep increasing,
        so a poller that is still running never mistakes new updates for old ones."""
        self._clear()
        self.changed()

    # ----- test side: inspection --------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        with self.lock:
            return list(self._sent)

    @property
    def calls(self) -> list[RecordedCall]:
        with self.lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[RecordedCall]:
        """Recorded calls of one method (case-insensitive, as Telegram's method names)."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

    @property
    def chat_actions(self) -> list[ChatAction]:
        with self.lock:
            return list(self._chat_actions)

    @property
    def commands(self) -> list[dict[str, str]]:
        """The commands of the last setMyCommands for the default scope and all languages."""
        with self.lock:
            return list(self.stored_commands.get(('{"type": "default"}', ""), []))

    @property
    def updates_confirmed(self) -> int:
        """The highest getUpdates offset seen: every update below it is confirmed."""
        with self.lock:
            return self._confirmed

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates injected but not yet confirmed."""
        with self.lock:
            return list(self.pending)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Block (sync tests) until ``predicate()`` holds, or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(0.005)

    async def wait_until_async(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the same signature as the sync twin
    ) -> None:
        """Like :meth:`wait_until`, without blocking the test's event loop."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.005)

    def wait_for_sent(self, count: int, timeout: float = 5.0) -> list[SentMessage]:
        """Block until at least ``count`` messages were sent or edited; return them all.

        From an async test whose event loop runs the bot, use :meth:`wait_for_sent_async`.
        """
        try:
            self.wait_until(lambda: len(self.sent) >= count, timeout)
        except TimeoutError:
            raise TimeoutError(f"expected {count} sent messages, got {self.sent!r}") from None
        return self.sent

    async def wait_for_sent_async(
        self,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - the same signature as the sync twin
    ) -> list[SentMessage]:
        try:
            await self.wait_until_async(lambda: len(self.sent) >= count, timeout)
        except TimeoutError:
            raise TimeoutError(f"expected {count} sent messages, got {self.sent!r}") from None
        return self.sent

    # ----- server side --------------------------------------------------------------------

    def record_call(self, method: str, params: dict[str, Any], token: str) -> RecordedCall:
        call = RecordedCall(method, params, token, time.monotonic())
        with self.lock:
            self._calls.append(call)
        return call

    def finish_call(self, call: RecordedCall, status: int, description: str | None) -> None:
        with self.lock:
            call.status, call.description = status, description

    def take_fault(self, method: str) -> ApiError | None:
        with self.lock:
            for key in (method.lower(), "*"):
                if self._faults.get(key):
                    return self._faults[key].popleft()
        return None

    def take_html_rejection(self) -> bool:
        with self.lock:
            if self._html_rejections <= 0:
                return False
            self._html_rejections -= 1
            return True

    def record_sent(self, message: SentMessage) -> None:
        with self.lock:
            self._sent.append(message)

    def record_chat_action(self, action: ChatAction) -> None:
        with self.lock:
            self._chat_actions.append(action)

    def next_message_id(self, chat_id: int | str) -> int:
        with self.lock:
            return next(self._message_ids[chat_id])

    def chat_for(self, chat_id: int | str) -> dict[str, Any] | None:
        """A chat the bot may write to: a known one, or any numeric id (as a stub)."""
        with self.lock:
            if chat_id in self.chats:
                return self.chats[chat_id]
            if isinstance(chat_id, int):
                return chat_json(chat_id, "private" if chat_id > 0 else "group")
            return None

    def enqueue(self, payload: dict[str, Any]) -> int:
        """Queue an update (its body without ``update_id``); return its update_id."""
        with self.lock:
            update_id = next(self._update_ids)
            self.pending.append({"update_id": update_id, **payload})
        self.changed()
        return update_id

    def new_file_id(self) -> int:
        with self.lock:
            return next(self._file_ids)

    def confirm(self, offset: int | None) -> None:
        """Forget updates below ``offset`` (or all but the last -offset), as getUpdates does."""
        if offset is None:
            return
        with self.lock:
            if offset < 0:
                self.pending = self.pending[offset:]
            else:
                self.pending = [u for u in self.pending if u["update_id"] >= offset]
                self._confirmed = max(self._confirmed, offset)
