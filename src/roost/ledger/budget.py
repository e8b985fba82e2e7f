"""Budgets that are enforced: the ledger is read before every model call.

A call is refused once spending has reached a cap; the call that crosses a cap is
allowed to finish, so a cap can be exceeded by at most one call's cost. Days and
months are local time, which is what a person means by "today".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from roost.config.schema import BudgetConfig
from roost.config.settings import Settings
from roost.ledger.ledger import Ledger


@dataclass(frozen=True)
class BudgetStatus:
    scope: str
    """``agent <name>`` or ``all agents``."""
    period: str
    """``daily`` or ``monthly``."""
    limit_usd: float
    spent_usd: float
    config_key: str

    @property
    def exhausted(self) -> bool:
        return self.spent_usd >= self.limit_usd

    def refusal(self) -> str:
        resets = "at midnight" if self.period == "daily" else "on the 1st of the month"
        return (
            f"Budget reached: {self.scope} spent ${self.spent_usd:.4f} of the "
            f"${self.limit_usd:.2f} {self.period} budget (resets {resets}); "
            f"raise {self.config_key} to continue."
        )


def period_start(period: str, now: datetime | None = None) -> datetime:
    """Local midnight today, or local midnight on the 1st, as naive UTC."""
    local = (now or datetime.now()).astimezone()
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "monthly":
        start = start.replace(day=1)
    return start.astimezone(UTC).replace(tzinfo=None)


class BudgetGuard:
    def __init__(
        self,
        ledger: Ledger,
        overall: BudgetConfig,
        per_agent: Mapping[str, BudgetConfig],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._ledger = ledger
        self._overall = overall
        self._per_agent = per_agent
        self._clock = clock

    def update(self, overall: BudgetConfig, per_agent: Mapping[str, BudgetConfig]) -> None:
        """New caps (a config reload); the next check uses them."""
        self._overall = overall
        self._per_agent = per_agent

    @classmethod
    def for_settings(cls, ledger: Ledger, settings: Settings) -> BudgetGuard:
        """The caps a configuration sets: the overall one and each agent's."""
        per_agent = {name: agent.budget for name, agent in settings.agents.items()}
        return cls(ledger, settings.budget, per_agent)

    async def statuses(self, agent: str | None = None) -> list[BudgetStatus]:
        """Every configured cap that applies (to ``agent``, or every agent's and the overall)."""
        scopes: list[tuple[str | None, BudgetConfig, str, str]] = []
        agents = [agent] if agent is not None else list(self._per_agent)
        for name in agents:
            caps = self._per_agent.get(name)
            if caps is not None:
                scopes.append((name, caps, f"agent {name}", f"agents.{name}.budget"))
        scopes.append((None, self._overall, "all agents", "budget"))
        now = self._clock() if self._clock else None
        caps_set: list[tuple[str | None, str, str, str, float]] = [
            (who, scope, key, period, limit)
            for who, caps, scope, key in scopes
            for period, limit in (("daily", caps.daily_usd), ("monthly", caps.monthly_usd))
            if limit is not None
        ]
        if not caps_set:
            return []
        spent = await self._ledger.spent_many(
            [(period_start(period, now), who) for who, _, _, period, _ in caps_set]
        )
        return [
            BudgetStatus(scope, period, limit, amount, f"{key}.{period}_usd")
            for (_, scope, key, period, limit), amount in zip(caps_set, spent, strict=True)
        ]

    async def refusal(self, agent: str) -> str | None:
        """Why a model call for ``agent`` must not be made now, or ``None`` if it may."""
        for status in await self.statuses(agent):
            if status.exhausted:
                return status.refusal()
        return None
