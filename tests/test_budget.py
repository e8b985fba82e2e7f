"""Budgets are enforced before each model call, and reported by `roost cost`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from roost.app import App
from roost.config.loader import load_settings
from roost.config.schema import BudgetConfig
from roost.ledger.budget import BudgetGuard, period_start
from roost.ledger.ledger import CallRecord, Ledger
from roost.ledger.pricing import PriceTable
from roost.providers.base import Usage
from roost.store.database import Database
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM, FakeUsage

# One call of 1M input tokens on claude-haiku-4-5 costs exactly $1.
DOLLAR = Usage(input_tokens=1_000_000)


@pytest.fixture
async def ledger(tmp_path: Path) -> Ledger:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    await db.open()
    return Ledger(db, PriceTable())


async def spend(ledger: Ledger, agent: str, times: int = 1) -> None:
    for _ in range(times):
        await ledger.record(CallRecord(agent, "s", "claude", "claude-haiku-4-5", DOLLAR, 1))


async def test_agent_caps_refuse_once_reached(ledger: Ledger) -> None:
    guard = BudgetGuard(
        ledger, BudgetConfig(), {"a": BudgetConfig(daily_usd=2.0), "b": BudgetConfig()}
    )
    await spend(ledger, "a")
    assert await guard.refusal("a") is None
    await spend(ledger, "a")
    refusal = await guard.refusal("a")
    assert refusal is not None
    assert "agent a spent $2.0000 of the $2.00 daily budget" in refusal
    assert "agents.a.budget.daily_usd" in refusal
    assert await guard.refusal("b") is None  # other agents are unaffected


async def test_the_overall_cap_counts_every_agent(ledger: Ledger) -> None:
    guard = BudgetGuard(ledger, BudgetConfig(monthly_usd=3.0), {})
    await spend(ledger, "a", 2)
    assert await guard.refusal("b") is None
    await spend(ledger, "b")
    refusal = await guard.refusal("c")
    assert refusal is not None and "all agents" in refusal and "budget.monthly_usd" in refusal


async def test_yesterdays_spending_does_not_count_today(ledger: Ledger) -> None:
    await spend(ledger, "a", 2)
    tomorrow = datetime.now().astimezone() + timedelta(days=1)
    guard = BudgetGuard(
        ledger, BudgetConfig(), {"a": BudgetConfig(daily_usd=1.0)}, lambda: tomorrow
    )
    assert await guard.refusal("a") is None


def test_periods_start_at_local_midnight_and_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        now = datetime(2026, 3, 17, 15, 30)  # local (CET, UTC+1)
        assert period_start("daily", now) == datetime(2026, 3, 16, 23, 0)
        assert period_start("monthly", now) == datetime(2026, 2, 28, 23, 0)
    finally:
        monkeypatch.undo()
        time.tzset()


async def test_a_turn_over_budget_makes_no_call(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
agents:
  assistant: {{model: claude/claude-haiku-4-5, budget: {{daily_usd: 0.5}}}}
"""
    )
    app = App(load_settings(path, env={}))
    await app.start()
    try:
        fake_llm.reply("expensive", usage=FakeUsage(1_000_000, 0))
        assert (await app.ask("assistant", "first", "s")).ok  # crosses the cap, completes
        refused = await app.ask("assistant", "second", "s")
    finally:
        await app.stop()
    assert refused.status == "over_budget" and refused.rounds == 0
    assert "Budget reached" in refused.text
    assert len(fake_llm.requests) == 1


def test_cost_reports_budgets_and_ask_fails_clearly(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
budget: {{monthly_usd: 100}}
agents:
  assistant: {{model: claude/claude-haiku-4-5, budget: {{daily_usd: 0.5}}}}
"""
    )
    fake_llm.reply("expensive", usage=FakeUsage(1_000_000, 0))
    roost = [sys.executable, "-m", "roost"]
    env = dict(os.environ)
    assert (
        subprocess.run([*roost, "ask", "assistant", "hi"], env=env, capture_output=True).returncode
        == 0
    )
    refused = subprocess.run(
        [*roost, "ask", "assistant", "hi"], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1 and "Budget reached" in refused.stderr
    report = json.loads(
        subprocess.run([*roost, "cost", "--json"], env=env, capture_output=True, text=True).stdout
    )
    budgets = {(b["scope"], b["period"]): b for b in report["budgets"]}
    assert budgets[("agent assistant", "daily")]["exhausted"] is True
    assert budgets[("agent assistant", "daily")]["spent_usd"] == pytest.approx(1.0)
    assert budgets[("all agents", "monthly")]["exhausted"] is False


LONG_LOCAL_MODEL = "qwen2.5-coder-32b-instruct-q4_K_M"


async def _record_three_models(path: Path) -> None:
    """One call each: priced by genai-prices, by the config, and not at all."""
    settings = load_settings(path)
    db = Database(settings.store_url)
    await db.open()
    try:
        ledger = Ledger(db, PriceTable.for_settings(settings))
        usage = Usage(123_456, 7_890, 1_000, 2_000)
        for provider, model in (
            ("claude", "claude-haiku-4-5-20251001"),
            ("claude", "claude-sonnet-4-5"),
            ("gpt", LONG_LOCAL_MODEL),
        ):
            await ledger.record(CallRecord("assistant", "s", provider, model, usage, 5))
    finally:
        await db.close()


def test_cost_table_keeps_names_whole_and_says_where_prices_come_from(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
models:
  claude/claude-sonnet-4-5: {{input: 2, output: 10}}
agents:
  assistant: {{model: claude/claude-haiku-4-5}}
"""
    )
    asyncio.run(_record_three_models(path))
    roost = [sys.executable, "-m", "roost", "cost"]
    env = {**os.environ, "COLUMNS": "80"}
    table = subprocess.run(roost, env=env, capture_output=True, text=True, check=True).stdout
    rows = {
        ref: [line for line in table.splitlines() if f"model {ref} " in line]
        for ref in ("claude/claude-haiku-4-5-20251001", "claude/claude-sonnet-4-5")
    }
    rows["local"] = [line for line in table.splitlines() if f"gpt/{LONG_LOCAL_MODEL} " in line]
    assert all(len(lines) == 1 for lines in rows.values()), table
    haiku, sonnet, local = (lines[0] for lines in rows.values())
    # 123,456 in at $1, 7,890 out at $5, 1,000 read at $0.10, 2,000 written at $1.25
    assert "0.1655" in haiku and "genai-prices " in haiku
    assert "0.3318" in sonnet and "config" in sonnet
    assert "unpriced" in local and "none" in local and "0.0000" not in local
    report = json.loads(
        subprocess.run([*roost, "--json"], env=env, capture_output=True, text=True).stdout
    )
    sources = report["price_sources"]
    assert sources["claude/claude-sonnet-4-5"] == "config"
    assert sources[f"gpt/{LONG_LOCAL_MODEL}"] == "none"
    assert sources["claude/claude-haiku-4-5-20251001"].startswith("genai-prices ")
