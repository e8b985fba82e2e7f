"""A serving App with the Telegram channel pointed at the fake Bot API, and helpers."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pytest
from pydantic import SecretStr
from telegram.warnings import PTBDeprecationWarning

from roost.app import App
from roost.channels.telegram.service import TelegramService
from roost.config.schema import TelegramConfig
from roost.config.settings import Settings
from roost.features import FeatureFactory
from roost.testing import settled
from tests.fakes.telegram import FakeTelegram, SentMessage

OWNER = 111
TIMEOUT = 10.0


@pytest.fixture(autouse=True)
def _quiet_ptb_retry_after_warning() -> None:
    # PTB 22 warns inside its own RetryAfter constructor; the channel reads either form.
    warnings.filterwarnings("ignore", "(?s).*attribute `retry_after`", PTBDeprecationWarning)


def telegram_config(fake: FakeTelegram, **overrides: Any) -> TelegramConfig:
    fields: dict[str, Any] = {
        "token": SecretStr(fake.token),
        "api_base_url": fake.url,
        "allowed_users": [OWNER],
        "default_agent": "assistant",
    }
    return TelegramConfig(**(fields | overrides))


@pytest.fixture
def tg_settings(settings: Settings, fake: FakeTelegram) -> Settings:
    return dataclasses.replace(settings, telegram=telegram_config(fake))


@dataclass
class Roost:
    app: App
    service: TelegramService
    stopped: bool = False

    async def stop(self, grace_s: float = 1.0) -> None:
        if not self.stopped:
            self.stopped = True
            await self.app.stop(grace_s)


class RoostFactory(Protocol):
    async def __call__(
        self, settings: Settings | None = None, *, scheduler: bool = False, **telegram: Any
    ) -> Roost: ...


@pytest.fixture
async def start_roost(tg_settings: Settings, fake: FakeTelegram) -> AsyncIterator[RoostFactory]:
    """Start an App (recover=True) with a TelegramService; ``telegram`` overrides config keys."""
    started: list[Roost] = []

    async def start(
        settings: Settings | None = None, *, scheduler: bool = False, **telegram: Any
    ) -> Roost:
        configured = settings or tg_settings
        if telegram:
            configured = dataclasses.replace(configured, telegram=telegram_config(fake, **telegram))
        features: list[FeatureFactory] = [TelegramService]
        if scheduler:
            from roost.scheduler.service import SchedulerService

            features.append(SchedulerService)
        app = App(configured, features)
        service = app.feature(TelegramService)
        running = Roost(app, service)
        started.append(running)
        await app.start(recover=True)
        return running

    yield start
    for running in reversed(started):
        await running.stop()


@pytest.fixture
async def roost(start_roost: RoostFactory) -> Roost:
    return await start_roost()


def texts(fake: FakeTelegram, chat_id: int | None = None) -> list[str]:
    return [m.visible_text for m in fake.sent if chat_id is None or m.chat_id == chat_id]


async def wait_sent(
    fake: FakeTelegram, count: int, chat_id: int | None = None, within: float = TIMEOUT
) -> list[SentMessage]:
    """Wait until ``count`` messages were sent (to ``chat_id``); return those."""

    def mine() -> list[SentMessage]:
        return [m for m in fake.sent if chat_id is None or m.chat_id == chat_id]

    try:
        await fake.wait_until_async(lambda: len(mine()) >= count, within)
    except TimeoutError:
        raise AssertionError(f"expected {count} messages, got {mine()!r}") from None
    return mine()


async def wait_confirmed(fake: FakeTelegram, update_id: int, within: float = TIMEOUT) -> None:
    """Wait until the bot confirmed ``update_id`` (its next poll asked for a later offset)."""
    await fake.wait_until_async(lambda: fake.updates_confirmed > update_id, within)


async def settle(roost: Roost, fake: FakeTelegram | None = None) -> None:
    """Drain to a quiet point before asserting that nothing else was sent.

    With ``fake`` (polling), first every update it holds was confirmed, so each was
    handled (a command answered, a message accepted into the inbox); then no turn is
    running or waiting and the outbox has nothing in flight. Without it (a webhook,
    or polling that has stopped), only the latter.
    """
    if fake is not None:
        try:
            await fake.wait_until_async(lambda: not fake.pending_updates, TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"updates not confirmed: {fake.pending_updates!r}") from None
    await settled(roost.app, TIMEOUT)


Check = Callable[[], bool]
