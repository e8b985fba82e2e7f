"""Failover along the chain after an outage, and none after the caller's own mistake."""

from __future__ import annotations

import pytest

from roost.app import App
from roost.providers.base import ProviderError
from tests.failover.conftest import ledger_rows, models_asked
from tests.fakes.llm_server import FakeLLM


@pytest.mark.parametrize("status", [429, 500, 503, 529])
async def test_an_outage_falls_over_to_the_next_model(
    failover_app: App, fake_llm: FakeLLM, status: int
) -> None:
    fake_llm.fail(status)
    fake_llm.reply("from the backup")
    result = await failover_app.ask("assistant", "hi", "s")
    assert result.ok and result.text == "from the backup"
    assert models_asked(fake_llm) == ["claude-haiku-4-5", "gpt-5-mini"]
    rows = await ledger_rows(failover_app)
    assert [(r["provider"], r["role"], r["status"]) for r in rows] == [
        ("claude", "routine", "error"),
        ("gpt", "fallback", "ok"),
    ]


async def test_a_timeout_falls_over(
    failover_app: App, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The primary answers after its client's timeout: set on the live config the
    # provider was built from (the fake's delay ends when the test does).
    primary = failover_app.providers["claude"]
    monkeypatch.setattr(primary._config, "timeout_s", 0.2)  # type: ignore[attr-defined]
    fake_llm.delay(30)
    fake_llm.reply("too late")
    fake_llm.reply("in time")
    result = await failover_app.ask("assistant", "hi", "s")
    assert result.ok and result.text == "in time"
    rows = await ledger_rows(failover_app)
    assert [(r["provider"], r["role"]) for r in rows] == [
        ("claude", "routine"),
        ("gpt", "fallback"),
    ]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "messages: field required"),
        (401, "invalid x-api-key"),
        (403, "forbidden"),
        (404, "model not found"),
        (400, "prompt is too long: 250000 tokens > 200000 maximum"),
    ],
)
async def test_the_callers_mistake_is_reported_not_failed_over(
    failover_app: App, fake_llm: FakeLLM, status: int, message: str
) -> None:
    fake_llm.fail(status, message)
    result = await failover_app.ask("assistant", "hi", "s")
    assert not result.ok and result.error is not None
    assert f"HTTP {status}" in result.error and message in result.error
    assert models_asked(fake_llm) == ["claude-haiku-4-5"]
    rows = await ledger_rows(failover_app)
    assert [(r["provider"], r["role"], r["status"]) for r in rows] == [
        ("claude", "routine", "error")
    ]


async def test_the_chain_is_tried_in_order_until_one_answers(
    failover_app: App, fake_llm: FakeLLM
) -> None:
    fake_llm.fail(500)
    fake_llm.fail(529)
    fake_llm.reply("third time")
    result = await failover_app.ask("assistant", "hi", "s")
    assert result.text == "third time"
    assert models_asked(fake_llm) == ["claude-haiku-4-5", "gpt-5-mini", "claude-sonnet-4-5"]
    rows = await ledger_rows(failover_app)
    assert [(r["provider"], r["model"], r["role"]) for r in rows] == [
        ("claude", "claude-haiku-4-5", "routine"),
        ("gpt", "gpt-5-mini", "fallback"),
        ("claude", "claude-sonnet-4-5", "fallback"),
    ]


async def test_when_every_model_fails_the_last_error_is_reported(
    failover_app: App, fake_llm: FakeLLM
) -> None:
    fake_llm.fail(500, times=3)
    result = await failover_app.ask("assistant", "hi", "s")
    assert not result.ok and result.error is not None and "HTTP 500" in result.error
    assert len(await ledger_rows(failover_app)) == 3


def test_the_error_says_whether_it_is_an_outage() -> None:
    assert ProviderError("x", status_code=529, transient=True).transient
    assert not ProviderError("x", status_code=400).transient
