"""Which Telegram updates were handled already: per bot, the offset and the recent ids.

An update is identified by its bot and its ``update_id``, so what is saved is keyed
by the bot id (the number before the ``:`` in the token; the token itself is never
stored or logged): ``telegram:offset:<bot id>`` holds ``{"offset": N, "recent":
[ids]}``. A token changed to another bot starts afresh instead of asking Telegram
for the old bot's offset (which would confirm, i.e. drop, the new bot's updates).

Duplicates are recognised by id, in a bounded memory of the most recently handled
ids (``REMEMBERED``, more than one ``getUpdates`` batch), not by "below the offset":
Telegram picks update ids at random again after a quiet week, so a new update may
well have a lower id than the last one handled. For the same reason an offset saved
more than ``STALE_AFTER_S`` ago is not sent to ``getUpdates``: a new update with a
random id below it would count as confirmed and be lost. Telegram keeps unconfirmed
updates for a day only, so asking without an offset then loses nothing, and the ids
remembered catch an update handled already.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from roost.store.state import StateStore

log = logging.getLogger(__name__)

KEY_PREFIX = "telegram:offset:"
LEGACY_KEY = "telegram:offset"
"""Before offsets were kept per bot; its bot is unknown, so it only seeds the memory."""
REMEMBERED = 256
STALE_AFTER_S = 6 * 86_400
"""An offset older than this is not used (Telegram restarts ids after a quiet week)."""


def bot_id_of(token: str) -> str:
    """The bot id in a token (``123456:ABC…`` → ``123456``), or ``unknown``."""
    prefix, colon, _ = token.partition(":")
    return prefix if colon and prefix.isdigit() else "unknown"


class UpdateLog:
    """The handled updates of one bot, loaded once and saved after each update."""

    def __init__(
        self, store: StateStore, bot_id: str, now: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._now = now
        self.bot_id = bot_id
        self.key = KEY_PREFIX + bot_id
        self.offset: int | None = None
        """``getUpdates``' offset: one past the last update handled."""
        self._recent: deque[int] = deque(maxlen=REMEMBERED)
        self._loaded = False

    async def load(self) -> None:
        if self._loaded:
            return
        saved = await self._store.get(self.key)
        if isinstance(saved, dict):
            offset = saved.get("offset")
            self.offset = offset if isinstance(offset, int) else None
            saved_at = saved.get("saved_at")
            if self.offset is not None and isinstance(saved_at, (int, float)):
                age_s = self._now() - saved_at
                if age_s > STALE_AFTER_S:
                    log.info(
                        "telegram: bot %s's offset is %.0f days old; Telegram may have "
                        "restarted update ids, so updates are fetched without it",
                        self.bot_id,
                        age_s / 86_400,
                    )
                    self.offset = None
            self._recent.extend(i for i in saved.get("recent", []) if isinstance(i, int))
        else:
            legacy = await self._store.get(LEGACY_KEY)
            if isinstance(legacy, int):
                # The last update handled before the upgrade may come again; it is not
                # known which bot the old offset was for, so it is not sent to Telegram.
                self._recent.append(legacy - 1)
                await self._store.delete(LEGACY_KEY)
        self._loaded = True

    def seen(self, update_id: int) -> bool:
        return update_id in self._recent

    async def handled(self, update_id: int) -> None:
        """Remember ``update_id`` (in memory and in the store) and move the offset past it."""
        if update_id not in self._recent:
            self._recent.append(update_id)
        self.offset = update_id + 1
        saved = {"offset": self.offset, "recent": list(self._recent), "saved_at": self._now()}
        await self._store.set(self.key, saved)

    def drop(self, update_id: int, mode: str) -> None:
        log.info(
            "telegram: dropped update %d (%s) of bot %s: handled already",
            update_id,
            mode,
            self.bot_id,
        )
