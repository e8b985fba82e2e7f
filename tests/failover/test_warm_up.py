"""The warm-up after start: /healthz answers while it runs, a turn arriving meanwhile
waits for its provider's import only, and a call is timed from its request."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from roost.agents import failover
from roost.ledger.pricing import RATES_FILE
from roost.providers.streaming import StreamingSdkProvider
from tests.failover.conftest import ledger_rows
from tests.fakes.llm_server import FakeLLM
from tests.gateway.conftest import TIMEOUT, GatewayFactory


class HeldImport:
    """Makes every SDK import wait (in its worker thread) until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.held: list[str] = []

    def __call__(self, sdk: str) -> None:
        self.held.append(sdk)
        self.entered.set()
        self.release.wait(TIMEOUT)


@pytest.fixture
def held_import(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldImport]:
    hold = HeldImport()
    monkeypatch.setattr(StreamingSdkProvider, "before_import", hold)
    yield hold
    hold.release.set()


async def test_healthz_answers_while_the_warm_up_holds_and_the_call_is_timed_from_its_request(
    start_gateway: GatewayFactory,
    fake_llm: FakeLLM,
    held_import: HeldImport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The call's clock stands still unless moved: the held import "takes" an hour.
    now = [0.0]
    monkeypatch.setattr(failover, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    gateway = await start_gateway()
    assert await asyncio.to_thread(held_import.entered.wait, TIMEOUT)
    warm_up = gateway.app.warmed_up
    assert warm_up is not None
    turn = asyncio.create_task(gateway.app.ask("assistant", "hi", "s"))
    async with gateway.http(token=None) as http:
        for _ in range(5):  # the loop is free: /healthz answers while the import is held
            response = await http.get("/healthz")
            assert response.status_code == 200 and response.json()["status"] == "ok"
    assert not warm_up.done() and not turn.done()
    assert fake_llm.requests == []  # the turn waits for its provider's client
    now[0] = 3600.0
    held_import.release.set()
    result = await asyncio.wait_for(turn, TIMEOUT)
    assert result.ok and result.text == "echo: hi"
    [call] = await ledger_rows(gateway.app)
    assert call["duration_ms"] == 0  # timed from the request being sent, not the import
    await asyncio.wait_for(warm_up, TIMEOUT)
    assert held_import.held == ["anthropic", "openai"]  # both providers, each once


async def test_the_warm_up_looks_the_prices_up(
    start_gateway: GatewayFactory,
) -> None:
    gateway = await start_gateway()
    assert gateway.app.warmed_up is not None
    await asyncio.wait_for(gateway.app.warmed_up, TIMEOUT)
    # genai-prices was read and the day's rates written, in the warm-up's thread: the
    # first turn prices its call from memory.
    assert (gateway.app.settings.home / RATES_FILE).exists()
