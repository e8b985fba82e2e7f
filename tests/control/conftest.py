"""A serving Roost (gateway + control page + scheduler) on the fake LLM, and Chromium.

The browser is Debian's Chromium driven by Playwright (never a downloaded one); without
``/usr/bin/chromium`` or the ``playwright`` package the browser tests skip, saying why.
One browser per module (a fresh context and page per test); the Roost under test is
per test, so the failure limiter and the data start clean each time.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from roost.app import App
from roost.builtin_features import gateway_feature
from roost.config.loader import load_settings
from roost.config.settings import Settings
from roost.control.feature import ControlFeature
from roost.gateway.service import GatewayService
from roost.scheduler.service import SchedulerService
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = os.environ.get("ROOST_TEST_CHROMIUM", "/usr/bin/chromium")
TOKEN = "control-page-test-token-0123456789abcdef"
TIMEOUT_MS = 20_000
"""Upper bound for anything the page must show; a healthy run takes a fraction of it."""


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def control_settings(
    fake_llm: FakeLLM,
    write_config: ConfigWriter,
    tmp_path: Path,
    gateway: str = "",
    *,
    port: int = 0,
    token: str = TOKEN,
) -> Settings:
    path = write_config(
        provider_yaml(fake_llm)
        + textwrap.dedent(
            f"""\
            home: {tmp_path / "home"}
            approvals: {{timeout_s: 60}}
            shell: {{sandbox: off}}
            budget: {{monthly_usd: 50}}
            gateway: {{port: {port}, token: {token}{gateway}}}
            agents:
              assistant:
                model: claude/claude-haiku-4-5
                system: You are a test assistant.
                budget: {{daily_usd: 2}}
              ops:
                model: claude/claude-haiku-4-5
                fallbacks: [gpt/gpt-5-mini]
                tools: [shell]
                shell: {{mode: ask}}
              thrifty:
                model: claude/claude-haiku-4-5
                budget: {{daily_usd: 0.000001}}
            schedules:
              digest:
                every: 24h
                agent: assistant
                prompt: Write the digest.
                deliver: [ws:nobody-home]
            """
        )
    )
    return load_settings(path, env=os.environ)


@dataclass
class Roost:
    app: App
    gateway: GatewayService
    running: bool = True

    @property
    def url(self) -> str:
        return self.gateway.http_url

    async def stop(self) -> None:
        """Stop it now (its gateway goes away); the fixture's teardown then leaves it be."""
        if self.running:
            self.running = False
            await self.app.stop(grace_s=1)


RoostFactory = Callable[..., Awaitable[Roost]]
"""``start_roost(gateway=", key: value", port=0, token=TOKEN)``: more ``gateway:``
settings; ``port`` to take the port of a Roost stopped before (the same origin for the
page), ``token`` for a gateway that wants another one. All share one home."""


@pytest_asyncio.fixture(loop_scope="module")
async def start_roost(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> AsyncIterator[RoostFactory]:
    started: list[Roost] = []

    async def start(gateway: str = "", *, port: int = 0, token: str = TOKEN) -> Roost:
        settings = control_settings(
            fake_llm, write_config, tmp_path, gateway, port=port, token=token
        )
        app = App(settings, [gateway_feature, ControlFeature, SchedulerService])
        roost = Roost(app, app.feature(GatewayService))
        started.append(roost)  # stopped at the end even if its start fails half-way
        await app.start(recover=True)
        return roost

    yield start
    for roost in started:
        await roost.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def roost(start_roost: RoostFactory) -> Roost:
    return await start_roost()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    reason = browser_missing()
    if reason is not None:
        pytest.skip(reason)
    from playwright.async_api import async_playwright, expect

    # Waiting for what the page must show, not a duration: generous on a busy machine.
    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # Chromium's own sandbox cannot start as root (a CI container).
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        yield launched
        await launched.close()


@dataclass
class Tab:
    """A page, and every console error and uncaught exception it had."""

    page: Page
    errors: list[str] = field(default_factory=list)


async def open_tab(browser: Browser, **context: Any) -> Tab:
    page = await (await browser.new_context(**context)).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    tab = Tab(page)
    page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    return tab


@pytest_asyncio.fixture(loop_scope="module")
async def tab(browser: Browser) -> AsyncIterator[Tab]:
    opened = await open_tab(browser)
    yield opened
    await opened.page.context.close()


async def sign_in(tab: Tab, url: str, token: str = TOKEN) -> None:
    await tab.page.goto(url)
    await tab.page.get_by_label("Gateway token").fill(token)
    await tab.page.get_by_role("button", name="Sign in").click()
