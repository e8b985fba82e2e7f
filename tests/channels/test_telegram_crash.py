"""A crash at the worst moment of a Telegram delivery: the reply is out, the outbox does
not know yet. What holds: once Telegram's answer is stored (at once, not in the
dispatcher's batch) nothing is sent again; before that, the part is sent again
(at least once: never lost)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from roost.bus.envelope import DELIVERY_DELIVERED
from roost.bus.store import BusStore
from tests.bus.conftest import eventually
from tests.channels.conftest import OWNER, RoostFactory, settle, texts, wait_sent
from tests.fakes.llm_server import FakeLLM
from tests.fakes.telegram import FakeTelegram


async def _killed_before_the_mark(self: BusStore, marks: Sequence[tuple[int, str | None]]) -> None:
    raise RuntimeError("the process died before the batched mark was written")


async def _killed_before_the_progress(
    self: BusStore, delivery_id: int, meta: dict[str, Any], *, urgent: bool = False
) -> None:
    raise RuntimeError("the process died before Telegram's answer was stored")


async def _restart_and_talk(
    start_roost: RoostFactory, fake: FakeTelegram, first_stop: Any, expected: int
) -> None:
    await first_stop()
    second = await start_roost()
    fake.send_text(OWNER, "after the restart")
    await wait_sent(fake, expected)
    await settle(second, fake)

    async def all_delivered() -> bool:
        found = await second.app.bus.to_target(f"telegram:{OWNER}")
        return all(d.status == DELIVERY_DELIVERED for d in found) and len(found) == 2

    await eventually(all_delivered)


async def test_a_reply_confirmed_by_telegram_is_not_sent_again_after_a_crash(
    start_roost: RoostFactory,
    fake: FakeTelegram,
    fake_llm: FakeLLM,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await start_roost()
    monkeypatch.setattr(BusStore, "delivered_many", _killed_before_the_mark)
    fake.send_text(OWNER, "hello")
    await wait_sent(fake, 1)

    async def crash() -> None:
        await first.stop()
        monkeypatch.undo()

    await _restart_and_talk(start_roost, fake, crash, 2)
    assert texts(fake) == ["echo: hello", "echo: after the restart"]


async def test_a_part_whose_answer_was_not_stored_is_sent_again_never_lost(
    start_roost: RoostFactory,
    fake: FakeTelegram,
    fake_llm: FakeLLM,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await start_roost()
    monkeypatch.setattr(BusStore, "delivered_many", _killed_before_the_mark)
    monkeypatch.setattr(BusStore, "record_progress", _killed_before_the_progress)
    fake.send_text(OWNER, "hello")
    await wait_sent(fake, 1)

    async def crash() -> None:
        await first.stop()
        monkeypatch.undo()

    await _restart_and_talk(start_roost, fake, crash, 3)
    assert texts(fake) == ["echo: hello", "echo: hello", "echo: after the restart"]
