"""The cost report's arithmetic: groups, cache share, projection, unpriced models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from roost.ledger.cost_report import cost_report, parse_window, projection, summary
from roost.ledger.ledger import NO_JOB, CallRecord, Ledger
from roost.ledger.pricing import PriceTable
from roost.ledger.roles import LedgerRole
from roost.providers.base import Usage
from roost.store.database import Database

# 1M uncached input tokens on claude-haiku-4-5 cost exactly $1 (genai-prices).
DOLLAR = Usage(input_tokens=1_000_000)


@pytest.fixture
async def ledger(tmp_path: Path) -> Ledger:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    await db.open()
    return Ledger(db, PriceTable())


async def record(
    ledger: Ledger,
    at: datetime,
    *,
    agent: str = "a",
    model: str = "claude-haiku-4-5",
    usage: Usage = DOLLAR,
    role: LedgerRole = LedgerRole.ROUTINE,
) -> None:
    entry = ledger.entry(CallRecord(agent, "s", "claude", model, usage, 1, role=role))
    entry.values["created_at"] = at.astimezone(UTC).replace(tzinfo=None)
    await ledger.store(entry)


NOW = datetime(2026, 6, 16, 12, 0, tzinfo=UTC)


async def test_groups_by_each_key_add_up_to_the_total(ledger: Ledger) -> None:
    await record(ledger, NOW - timedelta(days=1), agent="a")
    await record(ledger, NOW, agent="b", role=LedgerRole.PLANNER)
    await record(ledger, NOW, agent="b", model="claude-sonnet-4-5")
    expected = {
        "agent": {"a": 1, "b": 2},
        "model": {"claude/claude-haiku-4-5": 2, "claude/claude-sonnet-4-5": 1},
        "day": {"2026-06-15": 1, "2026-06-16": 2},
        "role": {"planner": 1, "routine": 2},
        "job": {NO_JOB: 3},
    }
    sonnet, _ = ledger.prices.cost("claude", "claude-sonnet-4-5", DOLLAR)
    assert sonnet > 1.0
    for by, calls in expected.items():
        report = await cost_report(ledger, None, by, NOW)
        assert {name: t.calls for name, t in report.groups.items()} == calls, by
        assert report.total.calls == 3
        assert report.total.cost_usd == pytest.approx(2.0 + sonnet)
    planner = (await cost_report(ledger, None, "role", NOW)).groups["planner"]
    assert planner.cost_usd == pytest.approx(1.0)
    since = (await cost_report(ledger, NOW - timedelta(hours=1), "agent", NOW)).groups
    assert list(since) == ["b"]


async def test_cache_share_counts_every_input_token(ledger: Ledger) -> None:
    usage = Usage(input_tokens=100, output_tokens=5, cache_read_tokens=700, cache_write_tokens=200)
    await record(ledger, NOW, usage=usage)
    data = await summary(ledger, None, "agent", NOW)
    assert data["total"]["cache_share"] == pytest.approx(0.7)
    assert data["groups"]["a"]["cache_read_tokens"] == 700


async def test_a_model_without_a_price_is_unpriced_not_zero(ledger: Ledger) -> None:
    await record(ledger, NOW, model="no-such-model-xyz")
    await record(ledger, NOW, agent="b")
    data = await summary(ledger, None, "model", NOW)
    assert data["groups"]["claude/no-such-model-xyz"]["cost"] == "unpriced"
    assert data["groups"]["claude/claude-haiku-4-5"]["cost"] == "$1.0000"
    assert data["total"]["cost"] == "$1.0000 + 1 unpriced call(s)"
    assert data["by_agent"]["a"]["cost"] == "unpriced"


async def test_projection_is_month_to_date_plus_the_weekly_rate_for_the_days_left(
    ledger: Ledger,
) -> None:
    # 7 dollars in the last 7 days (one a day), and 3 more earlier this month.
    for day in range(7):
        await record(ledger, NOW - timedelta(days=day, hours=1))
    for day in range(3):
        await record(ledger, NOW - timedelta(days=10 + day))
    await record(ledger, NOW - timedelta(days=40))  # last month: not in this month's total
    result = await projection(ledger, NOW)
    assert result.last_7_days_usd == pytest.approx(7.0)
    assert result.month_to_date_usd == pytest.approx(10.0)
    local_now = NOW.astimezone()
    month_end = (local_now.replace(day=28) + timedelta(days=4)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    days_left = (month_end - local_now).total_seconds() / 86400
    assert result.days_left == pytest.approx(days_left)
    assert result.projected_month_usd == pytest.approx(10.0 + 1.0 * days_left)


async def test_unknown_group_key_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="use one of agent, model, day, role, job"):
        await cost_report(ledger, None, "colour", NOW)


@pytest.mark.parametrize(
    ("text", "span"),
    [("7d", timedelta(days=7)), ("12h", timedelta(hours=12)), ("2W", timedelta(days=14))],
)
def test_spans(text: str, span: timedelta) -> None:
    assert parse_window(text) == span


@pytest.mark.parametrize("text", ["", "d", "-1d", "7y", "99999d", "1.5d"])
def test_bad_spans_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a span"):
        parse_window(text)


async def test_by_job_follows_the_turn_to_the_run_that_started_it(tmp_path: Path) -> None:
    from sqlalchemy import Connection, insert

    from roost.store.conversations import Conversations
    from roost.store.tables import job_runs

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}")
    await db.open()
    ledger = Ledger(db, PriceTable())
    conversations = Conversations(db)
    session = await conversations.session_id("a", "job:digest")
    started = await conversations.begin_turn(session, "a", 41, "make the digest")

    def add_run(connection: Connection) -> None:  # the scheduler's row for envelope 41
        run = {"job_name": "digest", "status": "ok", "envelope_id": 41}
        connection.execute(insert(job_runs).values(scheduled_for=NOW.replace(tzinfo=None), **run))

    await db.write(add_run)
    await ledger.record(
        CallRecord("a", "job:digest", "claude", "claude-haiku-4-5", DOLLAR, 1, started.turn_id)
    )
    await record(ledger, NOW)  # a call outside any job
    groups = (await cost_report(ledger, None, "job", NOW)).groups
    await db.close()
    assert {name: t.calls for name, t in groups.items()} == {NO_JOB: 1, "digest": 1}
    assert groups["digest"].cost_usd == pytest.approx(1.0)
