"""The proactive send limiter: a manual clock for its arithmetic, the fake Bot API for the
real path (a burst to one chat spread out, other chats not held up)."""

from __future__ import annotations

import itertools

from roost.channels.telegram.ratelimit import SendLimiter
from roost.config.schema import TelegramRateLimitConfig
from tests.channels.conftest import OWNER, RoostFactory, wait_sent
from tests.channels.test_telegram_delivery import queue
from tests.fakes.telegram import FakeTelegram


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def _send_times(limiter: SendLimiter, clock: ManualClock, chats: list[int]) -> list[float]:
    times = []
    for chat in chats:
        await limiter.acquire(chat)
        times.append(round(clock.now, 3))
    return times


def _limiter(clock: ManualClock, **config: float) -> SendLimiter:
    return SendLimiter(TelegramRateLimitConfig(**config), clock, clock.sleep)  # type: ignore[arg-type]


async def test_a_single_reply_never_waits_and_a_burst_to_one_chat_is_spread() -> None:
    clock = ManualClock()
    limiter = _limiter(clock)
    assert await limiter.acquire(OWNER) == 0.0
    clock.now = 100.0  # the chat's bucket is full again
    assert await _send_times(limiter, clock, [OWNER] * 6) == [100, 100, 100, 101, 102, 103]
    # Another chat is not held up by the first one's burst.
    assert await _send_times(limiter, clock, [222]) == [103]


async def test_a_group_gets_20_a_minute() -> None:
    clock = ManualClock()
    limiter = _limiter(clock)
    times = await _send_times(limiter, clock, [-100] * 23)
    assert times[:3] == [0, 0, 0] and times[3:6] == [3, 6, 9]
    assert times[-1] == 60  # 23 messages: 3 at once, then 20 in the minute
    assert all(b - a >= 3 - 1e-6 for a, b in itertools.pairwise(times[3:]))


async def test_all_chats_together_get_30_a_second() -> None:
    clock = ManualClock()
    limiter = _limiter(clock)
    times = await _send_times(limiter, clock, list(range(1, 91)))
    assert times[:30] == [0] * 30
    assert times[59] == 1.0 and times[89] == 2.0
    assert sum(1 for t in times if t <= 1.0) == 60


async def test_a_burst_through_the_real_path_is_spread_and_other_chats_go_first(
    start_roost: RoostFactory, fake: FakeTelegram
) -> None:
    rate = TelegramRateLimitConfig(per_chat_per_s=5, burst=2)
    running = await start_roost(rate_limit=rate, allowed_users=[OWNER, 222])
    for number in range(6):
        await queue(running, f"telegram:{OWNER}", f"burst {number}")
    await queue(running, "telegram:222", "another chat")
    sent = await wait_sent(fake, 7)
    mine = [m for m in sent if m.chat_id == OWNER]
    assert [m.visible_text for m in mine] == [f"burst {n}" for n in range(6)]
    # 2 at once, then 5/s: 0.8 s from the first to the last (unlimited: a few ms). Lower
    # bounds only, with room for one request's latency (the clock is read before sending).
    assert mine[5].at - mine[0].at >= 0.7
    assert mine[4].at - mine[2].at >= 0.3
    # The other chat's message did not queue behind the burst.
    assert [m.visible_text for m in sent].index("another chat") < 5
