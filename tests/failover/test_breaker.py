"""The circuit breaker per provider: opens after N outages, skipped while open, one
half-open probe after the cool-down (by the manual clock), closed by its success."""

from __future__ import annotations

from datetime import timedelta

from roost.app import App
from roost.testing import ManualClock
from tests.failover.conftest import ledger_rows, models_asked
from tests.fakes.llm_server import FakeLLM


def claude_state(app: App) -> str:
    providers = app.health()["components"]["providers"]["providers"]
    return str(providers["claude"]["state"])


async def open_claude(app: App, fake: FakeLLM) -> None:
    """Two outages of the primary in a row (failures_to_open: 2), each served by gpt."""
    for _ in range(2):
        fake.fail(503)
        fake.reply("backup")
        assert (await app.ask("assistant", "hi", "s")).text == "backup"
    fake.reset()


async def test_the_breaker_opens_after_consecutive_outages_and_the_provider_is_skipped(
    failover_app: App, fake_llm: FakeLLM
) -> None:
    fake_llm.fail(503)
    fake_llm.reply("backup")
    await failover_app.ask("assistant", "hi", "s")
    assert claude_state(failover_app) == "closed"  # one failure is not enough
    fake_llm.reset()
    fake_llm.fail(503)
    fake_llm.reply("backup")
    await failover_app.ask("assistant", "hi", "s")
    health = failover_app.health()["components"]["providers"]
    assert health["state"] == "degraded"
    assert health["providers"]["claude"]["state"] == "open"
    assert health["providers"]["claude"]["failovers"] == 2
    assert health["providers"]["gpt"] == {
        "state": "closed",
        "consecutive_failures": 0,
        "failovers": 0,
    }
    fake_llm.reset()
    result = await failover_app.ask("assistant", "again", "s")
    assert result.ok and models_asked(fake_llm) == ["gpt-5-mini"]  # claude skipped


async def test_the_callers_mistakes_do_not_open_the_breaker(
    failover_app: App, fake_llm: FakeLLM
) -> None:
    for _ in range(3):
        fake_llm.fail(400, "bad request")
        await failover_app.ask("assistant", "hi", "s")
    assert claude_state(failover_app) == "closed"


async def test_after_the_cooldown_one_probe_closes_the_breaker(
    failover_app: App, fake_llm: FakeLLM, clock: ManualClock
) -> None:
    await open_claude(failover_app, fake_llm)
    clock.advance(timedelta(seconds=59))
    assert claude_state(failover_app) == "open"
    clock.advance(timedelta(seconds=1))
    assert claude_state(failover_app) == "half-open"
    result = await failover_app.ask("assistant", "probe", "s")
    assert result.ok and models_asked(fake_llm) == ["claude-haiku-4-5"]
    assert claude_state(failover_app) == "closed"
    rows = await ledger_rows(failover_app)
    assert (rows[-1]["provider"], rows[-1]["role"]) == ("claude", "routine")


async def test_a_failed_probe_opens_the_breaker_for_another_cooldown(
    failover_app: App, fake_llm: FakeLLM, clock: ManualClock
) -> None:
    await open_claude(failover_app, fake_llm)
    clock.advance(timedelta(seconds=60))
    fake_llm.fail(500)
    fake_llm.reply("backup")
    assert (await failover_app.ask("assistant", "probe", "s")).text == "backup"
    assert models_asked(fake_llm) == ["claude-haiku-4-5", "gpt-5-mini"]
    assert claude_state(failover_app) == "open"
    fake_llm.reset()
    clock.advance(timedelta(seconds=30))
    await failover_app.ask("assistant", "still open", "s")
    assert models_asked(fake_llm) == ["gpt-5-mini"]
    clock.advance(timedelta(seconds=30))
    assert claude_state(failover_app) == "half-open"


async def test_every_provider_open_reports_an_error_without_calling(
    failover_app: App, fake_llm: FakeLLM
) -> None:
    for _ in range(2):
        fake_llm.fail(500, times=3)
        await failover_app.ask("assistant", "hi", "s")
    fake_llm.reset()
    result = await failover_app.ask("assistant", "hi", "s")
    assert not result.ok and result.error is not None and "circuit breaker is open" in result.error
    assert fake_llm.requests == []
