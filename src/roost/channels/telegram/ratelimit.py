"""A proactive limit on outgoing messages, so Telegram's limits are kept before a 429.

Telegram's documented limits: about one message a second in a chat, 20 a minute in
a group, 30 a second in all. Each is a token bucket here: one per chat, one more per
group (negative chat ids), one for the bot. A bucket starts full, so a single reply
(or a short burst of ``burst`` messages, e.g. a long reply's parts) goes out without
waiting; only a chat that keeps receiving faster than its rate is spread out. The 429
handling stays as the backstop (``retry_after`` is still obeyed).

Taking is synchronous once no bucket asks to wait, so concurrent senders on one event
loop can never both take the last token. The clock and the sleep are injectable, for
tests that must not depend on the machine's speed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from roost.config.schema import TelegramRateLimitConfig

MAX_CHATS = 10_000
"""Buckets kept (least recently used dropped): a dropped bucket is a full one anyway
unless the chat was written to in the last few seconds."""
_EPSILON = 1e-6


@dataclass
class TokenBucket:
    rate: float
    """Tokens added per second."""
    capacity: float
    tokens: float
    updated: float

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0 when one is there now)."""
        self._refill(now)
        # A hair of tolerance: after sleeping the exact wait, float rounding may leave
        # 0.9999999 tokens and a wait too small to move the clock (a busy loop).
        return 0.0 if self.tokens >= 1.0 - _EPSILON else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0

    def _refill(self, now: float) -> None:
        elapsed = max(now - self.updated, 0.0)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now


class SendLimiter:
    def __init__(
        self,
        config: TelegramRateLimitConfig,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._config = config
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self._global = TokenBucket(
            config.global_per_s, max(config.global_per_s, 1.0), config.global_per_s, now
        )
        self._chats: OrderedDict[int, TokenBucket] = OrderedDict()
        self._groups: OrderedDict[int, TokenBucket] = OrderedDict()

    async def acquire(self, chat_id: int) -> float:
        """Wait until a message to ``chat_id`` keeps every limit; the seconds waited."""
        waited = 0.0
        while True:
            now = self._clock()
            buckets = self._buckets(chat_id, now)
            delay = max(bucket.wait(now) for bucket in buckets)
            if delay <= 0:
                for bucket in buckets:
                    bucket.take(now)
                return waited
            await self._sleep(delay)
            waited += delay

    def _buckets(self, chat_id: int, now: float) -> list[TokenBucket]:
        config = self._config
        found = [self._global, _bucket(self._chats, chat_id, config.per_chat_per_s, config, now)]
        if chat_id < 0:
            rate = config.per_group_per_min / 60.0
            found.append(_bucket(self._groups, chat_id, rate, config, now))
        return found


def _bucket(
    buckets: OrderedDict[int, TokenBucket],
    chat_id: int,
    rate: float,
    config: TelegramRateLimitConfig,
    now: float,
) -> TokenBucket:
    bucket = buckets.get(chat_id)
    if bucket is None:
        bucket = buckets[chat_id] = TokenBucket(rate, config.burst, config.burst, now)
        if len(buckets) > MAX_CHATS:
            buckets.popitem(last=False)
    else:
        buckets.move_to_end(chat_id)
    return bucket
