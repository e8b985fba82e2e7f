"""Long polling, with the offset kept in the state store.

For each update: handle it (a command is answered, a message is accepted into an
agent's inbox), *then* save ``offset = update_id + 1`` and the id in the bot's
``UpdateLog`` (``telegram:offset:<bot id>``). After a restart polling resumes at
the saved offset, so no update is skipped and none handled twice (an update seen
again is recognised by its id, logged and dropped): stopping lets the update being
handled finish, offset saved, before polling is cancelled. A crash between
accepting a message and saving the offset re-delivers that update, and the
envelope's dedup key makes the second accept a no-op (a command answered just
before a crash is answered again). When the router refuses (``RouterStopped``,
Roost is stopping) polling ends without saving, and the update comes again at the
next start.

Supervision: network errors, timeouts, 5xx and 409 are retried with exponential
backoff, 429 after ``retry_after``; a poll that does not return within
``poll_timeout + stall_margin`` is abandoned and the polling connection replaced.
An update whose handling keeps failing is skipped after ``MAX_HANDLE_ATTEMPTS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.error import RetryAfter, TelegramError

from roost.bus.router import RouterStopped
from roost.channels.telegram.bot import BotHandle, describe, retry_after_s
from roost.channels.telegram.updates import UpdateLog

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]
"""Messages and button presses (approvals); edited messages, reactions and the rest
are not asked for."""
STALL_MARGIN_S = 10.0
MAX_HANDLE_ATTEMPTS = 3
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0


@dataclass
class Status:
    """The channel's state for health: starting, ok, degraded or stopped."""

    state: str = "stopped"
    last_error: str | None = None
    last_error_at: float | None = None
    last_poll_at: float | None = None

    def ok(self) -> None:
        self.state = "ok"
        self.last_poll_at = time.time()

    def degraded(self, error: str) -> None:
        self.state = "degraded"
        self.last_error, self.last_error_at = error, time.time()

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"state": self.state}
        if self.last_poll_at is not None:
            found["last_poll_at"] = _iso(self.last_poll_at)
        if self.last_error is not None and self.last_error_at is not None:
            found["last_error"] = self.last_error
            found["last_error_at"] = _iso(self.last_error_at)
        return found


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class _Stalled(Exception):
    pass


_STOP = object()


@dataclass
class _Backoff:
    delay: float = BACKOFF_START_S
    failures: dict[int, int] = field(default_factory=dict)

    def next(self) -> float:
        delay, self.delay = self.delay, min(self.delay * 2, BACKOFF_MAX_S)
        return delay

    def reset(self) -> None:
        self.delay = BACKOFF_START_S


class Poller:
    def __init__(
        self,
        connect: Callable[[], BotHandle],
        handle: Callable[[Update], Awaitable[None]],
        updates: UpdateLog,
        status: Status,
        poll_timeout_s: int,
        token: str,
        stall_margin_s: float = STALL_MARGIN_S,
    ) -> None:
        self._connect = connect
        self._handle = handle
        self._updates = updates
        self._status = status
        self._timeout = poll_timeout_s
        self._token = token
        self.stall_margin_s = stall_margin_s
        self._backoff = _Backoff()
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()

    async def stop_gracefully(self, grace_s: float) -> None:
        """Let the update being handled finish, offset saved, before polling is cancelled.

        Cancelling between a command's answer and the offset save would answer the
        command again after the restart.
        """
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace_s)

    async def run(self) -> None:
        """Poll and handle until cancelled, or until the router stops taking messages."""
        await self._updates.load()
        offset = self._updates.offset
        handle = self._connect()
        try:
            while True:
                try:
                    updates = await self._poll(handle, offset)
                except _Stalled:
                    self._status.degraded(
                        f"getUpdates did not return within {self._limit:g}s; polling restarted"
                    )
                    log.warning("telegram: %s", self._status.last_error)
                    old, handle = handle, self._connect()
                    await old.close()
                    continue
                except (TelegramError, OSError) as exc:
                    await self._wait_after(exc)
                    continue
                self._status.ok()
                self._backoff.reset()
                next_offset = await self._handle_all(updates, offset)
                if next_offset is None:
                    return
                offset = next_offset
        finally:
            await handle.close()

    @property
    def _limit(self) -> float:
        return self._timeout + self.stall_margin_s

    async def _poll(self, handle: BotHandle, offset: int | None) -> tuple[Update, ...]:
        try:
            return await asyncio.wait_for(
                handle.bot.get_updates(
                    offset=offset, timeout=self._timeout, allowed_updates=ALLOWED_UPDATES
                ),
                self._limit,
            )
        except TimeoutError:
            raise _Stalled from None

    async def _wait_after(self, exc: BaseException) -> None:
        error = describe(exc, self._token)
        delay = retry_after_s(exc) if isinstance(exc, RetryAfter) else self._backoff.next()
        self._status.degraded(error)
        log.warning("telegram: polling failed (%s); trying again in %.1fs", error, delay)
        await asyncio.sleep(delay)

    async def _handle_all(self, updates: tuple[Update, ...], offset: int | None) -> int | None:
        """Handle updates in order, saving the offset after each; None means stop."""
        for update in updates:
            if self._stopping:
                return None  # the rest comes again at the next start
            if self._updates.seen(update.update_id):
                self._updates.drop(update.update_id, "polling")
                offset = update.update_id + 1
                continue
            self._idle.clear()
            try:
                outcome = await self._handle_one(update)
            finally:
                self._idle.set()
            if outcome is _STOP:
                return None
            if isinstance(outcome, Exception):
                await self._wait_after(outcome)
                return offset  # poll again from this update
            offset = update.update_id + 1
        return offset

    async def _handle_one(self, update: Update) -> object:
        """Handle one update and save the offset past it.

        Returns None when done, ``_STOP`` when Roost is stopping, or the error to
        wait after before the update is tried again.
        """
        try:
            await self._handle(update)
        except RouterStopped:
            log.info("telegram: Roost is stopping; update %d stays unconfirmed", update.update_id)
            self._status.state = "stopped"
            return _STOP
        except Exception as exc:
            if not self._may_skip(update.update_id, exc):
                return exc
        await self._updates.handled(update.update_id)
        return None

    def _may_skip(self, update_id: int, exc: Exception) -> bool:
        failures = self._backoff.failures
        failures[update_id] = failures.get(update_id, 0) + 1
        if failures[update_id] < MAX_HANDLE_ATTEMPTS:
            log.warning("telegram: handling update %d failed: %r", update_id, exc)
            return False
        failures.pop(update_id, None)
        log.error(
            "telegram: skipping update %d after %d failed attempts",
            update_id,
            MAX_HANDLE_ATTEMPTS,
            exc_info=exc,
        )
        return True
