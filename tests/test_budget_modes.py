"""Budget modes (stop, downgrade, warn) and the 80% notice, at the boundaries and over time."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from roost.app import App
from roost.builtin_features import gateway_feature
from roost.config.loader import load_settings
from roost.config.schema import BudgetConfig
from roost.ledger.budget import BudgetGuard
from roost.ledger.ledger import CallRecord, Ledger
from roost.ledger.pricing import PriceTable
from roost.providers.base import Usage
from roost.store.database import Database
from roost.store.state import StateStore
from roost.timing.clock import ManualClock
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM

# 1M uncached input tokens on claude-haiku-4-5 cost $1: 250k cost $0.25, exact in binary.
QUARTER = Usage(input_tokens=250_000)


@pytest.fixture
def auckland() -> Iterator[None]:
    """Local time is Pacific/Auckland (UTC+13 in December): its midnight is 11:00 UTC."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Auckland"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    await database.open()
    yield database
    await database.close()


async def spend(ledger: Ledger, at: datetime, quarters: int, agent: str = "a") -> None:
    for _ in range(quarters):
        entry = ledger.entry(CallRecord(agent, "s", "claude", "claude-haiku-4-5", QUARTER, 1))
        entry.values["created_at"] = at.astimezone(UTC).replace(tzinfo=None)
        await ledger.store(entry)


def guard(db: Database, clock: ManualClock, on_exceed: str, daily: float = 1.0) -> BudgetGuard:
    caps = BudgetConfig(daily_usd=daily, on_exceed=on_exceed)  # type: ignore[arg-type]
    return BudgetGuard(
        Ledger(db, PriceTable()), BudgetConfig(), {"a": caps}, clock.now, StateStore(db)
    )


# 22:30 in Auckland on 2 December; local midnight is 90 minutes away.
LATE = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


async def test_each_mode_at_the_exact_cap(db: Database, auckland: None) -> None:
    clock = ManualClock(LATE)
    await spend(Ledger(db, PriceTable()), LATE - timedelta(minutes=5), 4)  # exactly $1.00
    stop, downgrade, warn = [
        await guard(db, clock, mode).check("a") for mode in ("stop", "downgrade", "warn")
    ]
    assert stop.refusal is not None and "$1.0000 of the $1.00 daily budget" in stop.refusal
    assert downgrade.refusal is None and downgrade.downgrade
    assert warn.refusal is None and not warn.downgrade


async def test_just_under_the_cap_nothing_happens_but_the_80_percent_notice(
    db: Database, auckland: None
) -> None:
    clock = ManualClock(LATE)
    ledger = Ledger(db, PriceTable())
    await spend(ledger, LATE - timedelta(minutes=5), 3)
    quiet = guard(db, clock, "stop", daily=1.25)
    assert (await quiet.check("a")).refusal is None and quiet.notices == []  # 60%
    await spend(ledger, LATE - timedelta(minutes=4), 1)  # exactly 80%
    check = await quiet.check("a")
    assert check.refusal is None and not check.downgrade
    assert len(quiet.notices) == 1 and "Budget at 80%:" in quiet.notices[0]


async def test_the_80_percent_notice_is_sent_once_per_period_even_across_a_restart(
    db: Database, auckland: None
) -> None:
    clock = ManualClock(LATE)
    ledger = Ledger(db, PriceTable())
    await spend(ledger, LATE - timedelta(minutes=5), 4)
    sent: list[str] = []

    async def sink(text: str) -> None:
        sent.append(text)

    first = guard(db, clock, "warn", daily=1.25)
    first.sinks.append(sink)
    await first.check("a")
    await first.check("a")
    assert len(sent) == 1 and "Budget at 80%:" in sent[0] and "agents.a.budget.daily_usd" in sent[0]
    restarted = guard(db, clock, "warn", daily=1.25)  # a new process, the same store
    restarted.sinks.append(sink)
    await restarted.check("a")
    assert len(sent) == 1
    await spend(ledger, LATE - timedelta(minutes=1), 1)  # a warn cap reached: told once too
    await restarted.check("a")
    await restarted.check("a")
    assert len(sent) == 2 and sent[1].startswith("Budget reached")
    # After local midnight (11:00 UTC) it is a new day: nothing spent, nothing to tell.
    clock.set(datetime(2026, 12, 2, 11, 0, tzinfo=UTC))
    await spend(ledger, clock.now(), 4)
    await restarted.check("a")
    assert len(sent) == 3 and "Budget at 80%:" in sent[2]


async def test_a_downgrade_ends_at_local_midnight(db: Database, auckland: None) -> None:
    clock = ManualClock(datetime(2026, 12, 2, 10, 59, 59, tzinfo=UTC))  # 23:59:59 local
    await spend(Ledger(db, PriceTable()), clock.now() - timedelta(hours=1), 4)
    downgrading = guard(db, clock, "downgrade")
    assert (await downgrading.check("a")).downgrade
    clock.advance(timedelta(seconds=1))  # 00:00 local: a new day
    assert not (await downgrading.check("a")).downgrade
    statuses = await downgrading.statuses("a")
    assert [s.state for s in statuses] == ["ok"]


@pytest.fixture
async def downgrading_app(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> AsyncIterator[App]:
    path = write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
agents:
  assistant:
    model: claude/claude-sonnet-4-5
    planner_model: gpt/gpt-5-mini
    budget: {{daily_usd: 0.05, on_exceed: downgrade}}
"""
    )
    app = App(load_settings(path, env=os.environ))
    await app.start()
    yield app
    await app.stop(grace_s=1)


async def test_downgrade_moves_the_turn_to_the_cheapest_configured_model(
    downgrading_app: App, fake_llm: FakeLLM
) -> None:
    first = await downgrading_app.ask("assistant", "hi", "d")
    assert first.ok and fake_llm.last_request.body["model"] == "claude-sonnet-4-5"
    await downgrading_app.ledger.record(
        CallRecord("assistant", "d", "claude", "claude-haiku-4-5", QUARTER, 1)
    )
    second = await downgrading_app.ask("assistant", "again", "d")
    assert second.ok and second.text == "echo: again"
    request = fake_llm.last_request
    assert request.api == "openai" and request.body["model"] == "gpt-5-mini"
    assert "plan" not in [t["function"]["name"] for t in request.body.get("tools", [])]
    state = [s.state for s in await downgrading_app.budget.statuses("assistant")]
    assert state == ["downgraded"]
    assert any("Budget reached" in notice for notice in downgrading_app.budget.notices)


async def _spend_in_store(path: Path, quarters: int) -> None:
    db = Database(load_settings(path, env=os.environ).store_url)
    await db.open()
    try:
        await spend(Ledger(db, PriceTable()), datetime.now(UTC), quarters, agent="assistant")
    finally:
        await db.close()


def test_roost_budget_shows_each_cap_spent_left_and_state(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    import asyncio
    import json
    import subprocess
    import sys

    path = write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
budget: {{monthly_usd: 100}}
agents:
  assistant:
    model: claude/claude-haiku-4-5
    budget: {{daily_usd: 1.25, on_exceed: downgrade}}
"""
    )
    asyncio.run(_spend_in_store(path, 4))  # $1.00
    roost = [sys.executable, "-m", "roost", "budget"]
    shown = subprocess.run([*roost, "--json"], capture_output=True, text=True, check=True)
    rows = {(row["scope"], row["period"]): row for row in json.loads(shown.stdout)["budgets"]}
    daily = rows[("agent assistant", "daily")]
    assert (daily["spent_usd"], daily["left_usd"]) == (1.0, 0.25)
    assert daily["state"] == "warning" and daily["on_exceed"] == "downgrade"
    assert rows[("all agents", "monthly")]["state"] == "ok"
    asyncio.run(_spend_in_store(path, 1))  # $1.25: the cap
    table = subprocess.run(roost, capture_output=True, text=True, check=True).stdout
    assert "downgraded" in table and "$1.25" in table


async def run(*command: str) -> subprocess.CompletedProcess[str]:
    """A CLI command, off the event loop (the App under test keeps running)."""
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)


async def test_budget_set_goes_through_the_running_gateway_else_the_store(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    import sys

    def configure(daily: float) -> Path:
        return write_config(
            provider_yaml(fake_llm)
            + f"""home: {tmp_path / "home"}
gateway: {{port: 0, token: budget-test-token}}
agents:
  assistant: {{model: claude/claude-haiku-4-5, budget: {{daily_usd: {daily}}}}}
"""
        )

    configure(5)
    app = App(load_settings(tmp_path / "roost.yaml", env=os.environ), [gateway_feature])
    await app.start(recover=True)  # as `roost run`: its features (the gateway) serve
    roost = [sys.executable, "-m", "roost", "budget"]
    try:
        await app.ledger.record(
            CallRecord("assistant", "s", "claude", "claude-haiku-4-5", QUARTER, 1)
        )
        assert (await app.ask("assistant", "hi", "b")).ok  # the caps are now in memory
        changed = await run(*roost, "set", "assistant", "daily", "0.25")
        assert changed.returncode == 0, changed.stderr
        assert "agents.assistant.budget.daily_usd is now $0.25" in changed.stdout
        assert "applied by the running Roost" in changed.stdout
        refused = await app.ask("assistant", "again", "b")  # the running process, at once
        assert refused.status == "over_budget" and "$0.25 daily budget" in refused.text
        shown = await run(*roost, "--json")
        assert json.loads(shown.stdout)["budgets"][0]["limit_usd"] == 0.25
        for bad in (["nobody", "daily", "1"], ["assistant", "weekly", "1"], ["all", "daily", "-1"]):
            wrong = await run(*roost, "set", *bad)
            assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
        await _refused_over_the_gateway(app)
    finally:
        await app.stop(grace_s=1)
    # Nothing runs: the store is written, and the next start applies it.
    stored = await run(*roost, "set", "assistant", "daily", "0.2")
    assert stored.returncode == 0, stored.stderr
    assert "stored" in stored.stdout and "applied by the running Roost" not in stored.stdout
    restarted = App(load_settings(tmp_path / "roost.yaml", env=os.environ))
    await restarted.start()
    try:
        refused = await restarted.ask("assistant", "still?", "b")
        assert refused.status == "over_budget" and "$0.20 daily budget" in refused.text
    finally:
        await restarted.stop(grace_s=1)
    # ... and the file wins once it changes that key.
    configure(6)
    edited = App(load_settings(tmp_path / "roost.yaml", env=os.environ))
    await edited.start()
    try:
        assert (await edited.ask("assistant", "now?", "b")).ok
        caps = {s.scope: s.limit_usd for s in await edited.budget.statuses("assistant")}
        assert caps == {"agent assistant": 6.0, "all agents": 40.0}  # the file has no overall
    finally:
        await edited.stop(grace_s=1)


async def _refused_over_the_gateway(app: App) -> None:
    """budget.set itself refuses what the CLI refuses before sending (another client may)."""
    from roost.client.errors import GatewayCallError
    from roost.client.gateway_client import GatewayClient
    from roost.client.location import locate

    location = locate(app.settings)
    assert location is not None
    client = await GatewayClient.connect(location.url, location.token)
    try:
        for params, says in (
            ({"agent": "nobody", "period": "daily", "usd": 1}, "unknown agent 'nobody'"),
            ({"agent": "all", "period": "daily", "usd": -1}, "a cap is a positive number"),
            ({"agent": "all", "period": "weekly", "usd": 1}, "period"),
        ):
            with pytest.raises(GatewayCallError) as refused:
                await client.call("budget.set", params)
            assert refused.value.code == "bad_request" and says in refused.value.message
        done = await client.call("budget.set", {"agent": "all", "period": "monthly", "usd": 40})
        assert done == {"config_key": "budget.monthly_usd", "usd": 40.0}
    finally:
        await client.close()
    assert [s.limit_usd for s in await app.budget.statuses() if s.scope == "all agents"] == [40.0]


async def test_downgrade_counts_the_fallbacks_among_the_configured_models(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
agents:
  assistant:
    model: claude/claude-sonnet-4-5
    fallbacks: [claude/claude-haiku-4-5]
    budget: {{daily_usd: 0.05, on_exceed: downgrade}}
"""
    )
    app = App(load_settings(path, env=os.environ))
    await app.start()
    try:
        await app.ledger.record(
            CallRecord("assistant", "d", "claude", "claude-haiku-4-5", QUARTER, 1)
        )
        downgraded = await app.ask("assistant", "cheaply", "d")
        assert downgraded.ok
        assert fake_llm.last_request.body["model"] == "claude-haiku-4-5"
    finally:
        await app.stop(grace_s=1)
