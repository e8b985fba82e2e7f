"""The cost report every surface shows (`roost cost`, `usage.summary`, Telegram's /cost).

One function builds it from the ledger so the CLI, the WebSocket API and the bot can never
disagree on the arithmetic: totals, a breakdown by one key, the share of input tokens read
from the cache, and a projection of this month's spend.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from roost.ledger.budget import period_start
from roost.ledger.ledger import GROUP_KEYS, Ledger, UsageTotals

PROJECTION_WINDOW_DAYS = 7
PROJECTION_METHOD = (
    "spent so far this month + (spent in the last 7 days / 7) x days left in the month"
)


@dataclass(frozen=True)
class Projection:
    """This month's spend if the last 7 days' daily rate holds until its end."""

    month_to_date_usd: float
    last_7_days_usd: float
    days_left: float
    projected_month_usd: float
    method: str = PROJECTION_METHOD

    def as_dict(self) -> dict[str, Any]:
        return {
            "month_to_date_usd": round(self.month_to_date_usd, 8),
            "last_7_days_usd": round(self.last_7_days_usd, 8),
            "days_left": round(self.days_left, 4),
            "projected_month_usd": round(self.projected_month_usd, 8),
            "method": self.method,
        }


@dataclass(frozen=True)
class CostReport:
    since: datetime | None
    """Naive UTC, or ``None`` for all time."""
    by: str
    total: UsageTotals
    groups: dict[str, UsageTotals]
    projection: Projection

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `roost cost --json` and `usage.summary`."""
        return {
            # Naive UTC, as usage.summary has always sent it (its docs: naive = UTC).
            "since": self.since.isoformat() if self.since else None,
            "by": self.by,
            "total": totals_dict(self.total),
            "groups": {name: totals_dict(totals) for name, totals in self.groups.items()},
            "projection": self.projection.as_dict(),
        }


def totals_dict(totals: UsageTotals) -> dict[str, Any]:
    """Totals with the cache share and a cost that is never a silent $0 for unpriced calls."""
    share = totals.cache_share
    return {
        **totals.as_dict(),
        "cost_usd": round(totals.cost_usd, 8),
        "cache_share": None if share is None else round(share, 4),
        "cost": usd_text(totals),
    }


def usd_text(totals: UsageTotals) -> str:
    """``$1.2345``, ``unpriced`` when no call had a price, or both when some had none."""
    if totals.calls and totals.unpriced_calls == totals.calls:
        return "unpriced"
    if totals.unpriced_calls:
        return f"${totals.cost_usd:.4f} + {totals.unpriced_calls:,} unpriced call(s)"
    return f"${totals.cost_usd:.4f}"


def parse_window(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m`` or ``2w`` as a time span (``ValueError`` with a clear message)."""
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    value, unit = text.strip()[:-1], text.strip()[-1:].lower()
    if unit not in units or not value.isdigit() or len(value) > 4:  # 9999w: no overflow
        raise ValueError(f"{text!r} is not a span like 7d, 12h, 30m or 2w")
    return timedelta(seconds=int(value) * units[unit])


async def cost_report(
    ledger: Ledger, since: datetime | None, by: str, now: datetime | None = None
) -> CostReport:
    """The report for calls since ``since`` (naive UTC) grouped by ``by`` (``GROUP_KEYS``)."""
    if by not in GROUP_KEYS:
        raise ValueError(f"--by {by!r}: use one of {', '.join(GROUP_KEYS)}")
    groups = await ledger.totals_by(by, since)
    total = UsageTotals()
    for part in groups.values():
        total.add(part)
    return CostReport(since, by, total, groups, await projection(ledger, now))


async def projection(ledger: Ledger, now: datetime | None = None) -> Projection:
    """This month's (local calendar) spend projected at the last 7 days' rate."""
    moment = (now or datetime.now(UTC)).astimezone()
    month_start = period_start("monthly", moment)
    week_start = moment.astimezone(UTC).replace(tzinfo=None) - timedelta(
        days=PROJECTION_WINDOW_DAYS
    )
    month_to_date, last_week = await ledger.spent_many([(month_start, None), (week_start, None)])
    days_in_month = calendar.monthrange(moment.year, moment.month)[1]
    month_end = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=days_in_month
    )
    days_left = max(0.0, (month_end - moment).total_seconds() / 86400)
    daily_rate = last_week / PROJECTION_WINDOW_DAYS
    return Projection(month_to_date, last_week, days_left, month_to_date + daily_rate * days_left)


async def summary(
    ledger: Ledger, since: datetime | None, by: str = "agent", now: datetime | None = None
) -> dict[str, Any]:
    """`roost cost --json` and `usage.summary`: the report, and always by agent and by model
    too (the fields `usage.summary` had before ``by`` existed)."""
    report = await cost_report(ledger, since, by, now)
    by_agent = report.groups if by == "agent" else await ledger.totals_by("agent", since)
    by_model = report.groups if by == "model" else await ledger.totals_by("model", since)
    return {
        **report.as_dict(),
        "by_agent": {name: totals_dict(totals) for name, totals in by_agent.items()},
        "by_model": {name: totals_dict(totals) for name, totals in by_model.items()},
    }
