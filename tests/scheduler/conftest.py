"""A serving App with a SchedulerService on a chosen clock, and ways to wait for it."""

from __future__ import annotations

import asyncio
import os
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from roost.app import App
from roost.config.loader import load_settings
from roost.config.settings import Settings
from roost.scheduler.model import RUN_RUNNING, RunInfo
from roost.scheduler.service import SchedulerService
from roost.testing import RecordingChannel
from roost.timing.clock import Clock, ManualClock
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM

START = datetime(2026, 5, 8, 10, 0, tzinfo=UTC)
"""A Friday, 10:00 UTC (12:00 in Berlin)."""

SettingsMaker = Callable[..., Settings]


@pytest.fixture
def make_settings(fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path) -> SettingsMaker:
    """Settings with the two test agents, plus ``schedules`` (YAML) and ``extra`` keys."""

    def make(schedules: str = "", extra: str = "") -> Settings:
        text = provider_yaml(fake_llm) + textwrap.dedent(
            f"""\
            home: {tmp_path / "home"}
            agents:
              assistant:
                model: claude/claude-haiku-4-5
                tools: [schedule_job, list_jobs, cancel_job]
              coder: {{model: gpt/gpt-5-mini}}
            """
        )
        if schedules.strip():
            text += "schedules:\n" + textwrap.indent(textwrap.dedent(schedules), "  ")
        text += textwrap.dedent(extra)
        return load_settings(write_config(text), env=os.environ)

    return make


class Harness:
    """A started App with its scheduler; ``channel`` receives ``telegram:`` deliveries."""

    def __init__(self, app: App, scheduler: SchedulerService, channel: RecordingChannel) -> None:
        self.app = app
        self.scheduler = scheduler
        self.channel = channel

    @property
    def clock(self) -> ManualClock:
        assert isinstance(self.scheduler.clock, ManualClock)
        return self.scheduler.clock

    async def advance(self, delta: timedelta) -> None:
        """Move the manual clock and wait until the loop has acted and sleeps again."""
        await until_true(lambda: self.clock.sleepers >= 1)
        before = self.scheduler.loop.ticks
        deadline = self.clock.next_deadline()
        self.clock.advance(delta)
        if deadline is not None and deadline <= self.clock.now():
            await until_true(
                lambda: self.scheduler.loop.ticks > before and self.clock.sleepers >= 1
            )

    async def runs(self, job: str) -> list[RunInfo]:
        """Runs of ``job``, oldest first."""
        return list(reversed(await self.scheduler.runs(job, 1000)))

    async def settled_runs(self, job: str, count: int, within: float = 10.0) -> list[RunInfo]:
        """Wait until ``job`` has ``count`` runs, none still running; oldest first."""
        found: list[RunInfo] = []

        async def settled() -> bool:
            nonlocal found
            found = await self.runs(job)
            return len(found) >= count and all(r.status != RUN_RUNNING for r in found)

        await eventually(settled, within)
        return found


async def until_true(check: Callable[[], bool], within: float = 10.0) -> None:
    """Yield to the loop until ``check()`` holds (state in memory)."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.002)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll ``check`` until it holds (state in the database)."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def serving(
    settings: Settings,
    clock: Clock | None = None,
    channel: RecordingChannel | None = None,
    **options: Any,
) -> AsyncIterator[Harness]:
    """An App serving with recover=True and a scheduler; telegram: goes to ``channel``."""
    channel = channel or RecordingChannel()
    channel.scheme = "telegram"
    app = App(settings, [lambda core: SchedulerService(core, clock=clock, **options)])
    app.dispatcher.register(channel)
    scheduler = app.feature(SchedulerService)
    await app.start(recover=True)
    try:
        yield Harness(app, scheduler, channel)
    finally:
        await app.stop(grace_s=0.5)


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock(START)
