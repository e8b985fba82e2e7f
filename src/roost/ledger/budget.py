"""Budgets that are enforced: the ledger is read before every model call.

At a cap, what happens is the cap's ``on_exceed``: ``stop`` refuses the call (the call that
crosses a cap is allowed to finish, so a cap can be exceeded by at most one call's cost),
``downgrade`` moves the agent to its cheapest configured model until the period ends, ``warn``
lets the call run and tells the owner. At 80% of a cap the owner is told once per period; the
"told" mark is kept in the store, so a restart does not tell again. Days and months are local
time, which is what a person means by "today".
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from roost.config.schema import BudgetConfig
from roost.config.settings import Settings
from roost.ledger.ledger import Ledger
from roost.store.state import StateStore

log = logging.getLogger(__name__)

WARN_SHARE = 0.8
"""The share of a cap at which the owner is told (once per period)."""

NoticeSink = Callable[[str], Awaitable[None]]

OVERRIDES_REREAD_S = 30.0
"""How old the in-memory copy of the `roost budget set` overrides may get before the check
reads them again: a Roost without a gateway sees a cap the CLI stored within this long
(one with a gateway is told at once, through ``budget.set``)."""

OVERRIDE_PREFIX = "budget.override."
"""State keys of the caps `roost budget set` changed: the prefix, then the config key."""


PERIODS = ("daily", "monthly")
MAX_CAP_USD = 1e9


class CapError(ValueError):
    """A cap `roost budget set` (or ``budget.set``) cannot take; the message says why."""


def check_cap(period: str, usd: float) -> None:
    """Raise ``CapError`` unless ``period`` and ``usd`` make a cap."""
    if period not in PERIODS:
        raise CapError(f"period {period!r}: use daily or monthly")
    if not math.isfinite(usd) or usd <= 0 or usd > MAX_CAP_USD:
        raise CapError(f"{usd}: a cap is a positive number of USD")


async def set_cap(
    state: StateStore, settings: Settings, agent: str | None, period: str, usd: float
) -> str:
    """Change a cap in the store, when no Roost runs (``agent`` None: the overall one);
    return its config key. A running Roost takes it through ``BudgetGuard.set_cap``."""
    per_agent = {name: agent.budget for name, agent in settings.agents.items()}
    return await _store_cap(state, settings.budget, per_agent, agent, period, usd)


async def _store_cap(
    state: StateStore,
    overall: BudgetConfig,
    per_agent: Mapping[str, BudgetConfig],
    agent: str | None,
    period: str,
    usd: float,
) -> str:
    """Stored with the file's value of that key at this moment: when the file's value
    differs from it later, the file wins and the override is dropped (see ``_overrides``)."""
    check_cap(period, usd)
    caps = overall if agent is None else per_agent.get(agent)
    if caps is None:
        known = ", ".join(per_agent)
        raise CapError(f"unknown agent '{agent}' (known: {known}, or all)")
    key = ("budget" if agent is None else f"agents.{agent}.budget") + f".{period}_usd"
    file_usd = caps.daily_usd if period == "daily" else caps.monthly_usd
    await state.set(OVERRIDE_PREFIX + key, {"usd": usd, "file_usd": file_usd})
    return key


@dataclass(frozen=True)
class BudgetStatus:
    scope: str
    """``agent <name>`` or ``all agents``."""
    period: str
    """``daily`` or ``monthly``."""
    limit_usd: float
    spent_usd: float
    config_key: str
    on_exceed: str = "stop"
    period_start: datetime | None = None
    """When the period counted began (naive UTC)."""

    @property
    def exhausted(self) -> bool:
        return self.spent_usd >= self.limit_usd

    @property
    def nearly_exhausted(self) -> bool:
        return self.spent_usd >= self.limit_usd * WARN_SHARE

    @property
    def state(self) -> str:
        """``ok``, ``warning`` (80%), or at the cap ``stopped``, ``downgraded`` or ``over``."""
        if self.exhausted:
            return {"stop": "stopped", "downgrade": "downgraded"}.get(self.on_exceed, "over")
        return "warning" if self.nearly_exhausted else "ok"

    def notice(self, kind: str) -> str:
        share = self.spent_usd / self.limit_usd
        what = "reached" if kind == "exceeded" else f"at {share:.0%}"
        then = {
            "stop": "model calls will be refused at the cap",
            "downgrade": "the agent moves to its cheapest model at the cap",
            "warn": "turns keep running",
        }[self.on_exceed]
        return (
            f"Budget {what}: {self.scope} spent ${self.spent_usd:.4f} of the "
            f"${self.limit_usd:.2f} {self.period} budget ({then}; {self.config_key})."
        )

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
        state: StateStore | None = None,
    ) -> None:
        self._ledger = ledger
        self._overall = overall
        self._per_agent = per_agent
        self._clock = clock
        self._state = state
        self._stored_overrides: dict[str, Any] | None = None
        """The override rows of the state table, kept in memory: they change through
        ``set_cap`` (`roost budget set` reaches a running Roost through its gateway) and a
        file change dropping one, so the check before every call need not read the table;
        read again after ``OVERRIDES_REREAD_S`` for a cap the CLI stored without a gateway."""
        self._overrides_read_at = 0.0
        self._told: set[tuple[str, str]] = set()
        self.sinks: list[NoticeSink] = []
        """Where notices go besides the log (Telegram's owner chat, when it runs)."""
        self.notices: list[str] = []
        """The last notices (newest last), for /status."""

    def update(self, overall: BudgetConfig, per_agent: Mapping[str, BudgetConfig]) -> None:
        """New caps (a config reload); the next check uses them."""
        self._overall = overall
        self._per_agent = per_agent

    async def set_cap(self, agent: str | None, period: str, usd: float) -> str:
        """Change a cap at run time (``agent`` None: the overall one), persisted; the next
        check uses it. Returns its config key; raises ``CapError`` for a bad cap."""
        if self._state is None:
            raise CapError("budgets set at run time need the store")
        key = await _store_cap(self._state, self._overall, self._per_agent, agent, period, usd)
        self._stored_overrides = None  # read again, as stored, at the next check
        return key

    @classmethod
    def for_settings(
        cls,
        ledger: Ledger,
        settings: Settings,
        state: StateStore | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> BudgetGuard:
        """The caps a configuration sets: the overall one and each agent's."""
        per_agent = {name: agent.budget for name, agent in settings.agents.items()}
        return cls(ledger, settings.budget, per_agent, clock, state)

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
        in_file = {
            f"{key}.{period}_usd": limit
            for _, caps, _, key in scopes
            for period, limit in (("daily", caps.daily_usd), ("monthly", caps.monthly_usd))
        }
        overrides = await self._overrides(in_file)
        caps_set: list[tuple[str | None, str, str, str, float]] = [
            (who, scope, key, period, limit)
            for who, caps, scope, key in scopes
            for period in ("daily", "monthly")
            if (limit := overrides.get(f"{key}.{period}_usd", in_file[f"{key}.{period}_usd"]))
            is not None
        ]
        if not caps_set:
            return []
        spent = await self._ledger.spent_many(
            [(period_start(period, now), who) for who, _, _, period, _ in caps_set]
        )
        modes = {key: caps.on_exceed for _, caps, _, key in scopes}
        return [
            BudgetStatus(
                scope,
                period,
                limit,
                amount,
                f"{key}.{period}_usd",
                modes[key],
                period_start(period, now),
            )
            for (_, scope, key, period, limit), amount in zip(caps_set, spent, strict=True)
        ]

    async def _overrides(self, in_file: Mapping[str, float | None]) -> dict[str, float]:
        """The caps `roost budget set` changed, by config key, while the file still has the
        value it had then; an override whose key the file has changed since is dropped."""
        if self._state is None:
            return {}
        now = time.monotonic()
        stored = self._stored_overrides
        if stored is None or now - self._overrides_read_at > OVERRIDES_REREAD_S:
            stored = self._stored_overrides = await self._state.with_prefix(OVERRIDE_PREFIX)
            self._overrides_read_at = now
        found: dict[str, float] = {}
        for state_key, value in list(stored.items()):
            config_key = state_key.removeprefix(OVERRIDE_PREFIX)
            if config_key not in in_file:
                continue  # another agent's, or one no longer configured
            if value.get("file_usd") != in_file[config_key]:
                log.warning(
                    "%s changed in the config file: the cap set with `roost budget set` is dropped",
                    config_key,
                )
                await self._state.delete(state_key)
                stored.pop(state_key, None)  # (a set_cap meanwhile has it read again)
                continue
            found[config_key] = float(value["usd"])
        return found

    async def check(self, agent: str) -> BudgetCheck:
        """What the caps say about the next model call for ``agent``; tells the owner what is
        new (80% of a cap, or a ``warn`` cap reached) once per period."""
        result = BudgetCheck()
        for status in await self.statuses(agent):
            if status.exhausted and status.on_exceed == "stop" and result.refusal is None:
                result.refusal = status.refusal()
            if status.exhausted and status.on_exceed == "downgrade":
                result.downgrade = True
            if status.nearly_exhausted:
                await self._tell_once(status, "warning")
            if status.exhausted and status.on_exceed != "stop":
                await self._tell_once(status, "exceeded")
        return result

    async def _tell_once(self, status: BudgetStatus, kind: str) -> None:
        key = f"budget.told.{status.config_key}.{kind}"
        period = status.period_start.isoformat() if status.period_start else ""
        if (key, period) in self._told:
            return  # known told: past 80% every call checks, and need not read the store
        told = False
        if self._state is not None:
            told = await self._state.get(key) == period
            if not told:  # marked before telling: at most once, even on a crash
                await self._state.set(key, period)
        self._told.add((key, period))
        if told:
            return
        text = status.notice(kind)
        log.warning("%s", text)
        self.notices.append(text)
        del self.notices[:-10]
        for sink in list(self.sinks):
            try:
                await sink(text)
            except Exception:  # a notice that cannot be sent must not stop the turn
                log.exception("could not send a budget notice")

    async def refusal(self, agent: str) -> str | None:
        """Why a model call for ``agent`` must not be made now, or ``None`` if it may."""
        return (await self.check(agent)).refusal


@dataclass
class BudgetCheck:
    refusal: str | None = None
    """Why the call must not be made (a ``stop`` cap is reached), or ``None``."""
    downgrade: bool = False
    """A ``downgrade`` cap is reached: make the call on the cheapest configured model."""
