"""Cached input through the whole stack, as the fake's simulated caches report it, priced
at its own rates on both APIs (and a model without a price stays "unpriced")."""

from __future__ import annotations

import pytest

from roost.app import App
from tests.fakes.llm_server import FakeLLM

LONG = "A long reference text the owner pasted, kept in the conversation. " * 300


@pytest.mark.parametrize("agent", ["assistant", "coder"])
async def test_cached_input_is_reported_and_priced_at_its_rate(
    app: App, fake_llm: FakeLLM, agent: str
) -> None:
    first = await app.ask(agent, LONG, "cached")
    second = await app.ask(agent, "and a short follow-up", "cached")
    assert first.ok and second.ok
    assert second.usage.cache_read_tokens > 1024
    assert second.usage.input_tokens < second.usage.cache_read_tokens
    price = app.ledger.prices.lookup("x", app.settings.agents[agent].model)
    assert price is not None and price.cache_read < price.input
    usage = second.usage
    expected = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_read_tokens * price.cache_read
        + usage.cache_write_tokens * price.cache_write
    ) / 1e6
    assert second.cost_usd == pytest.approx(expected)
    report = (await app.ledger.report()).by_agent[agent]
    assert report.cache_read_tokens == first.usage.cache_read_tokens + usage.cache_read_tokens
    assert report.unpriced_calls == 0


async def test_cached_input_of_an_unpriced_model_stays_unpriced(
    app: App, fake_llm: FakeLLM
) -> None:
    from roost.agents.turn import TurnOrigin

    agent = app.agent("coder")
    origin = TurnOrigin(model="my-local-model")
    for text in (LONG, "again"):
        result = await agent.ask("local", text, None, origin)
    assert result.usage.cache_read_tokens > 0 and result.cost_usd == 0
    report = (await app.ledger.report()).by_model["gpt/my-local-model"]
    assert report.unpriced_calls == 2 and report.cost_usd == 0
