"""The composition root: the one place that builds the core, wires in the features,
and starts and stops the whole in order.

The core is the store, the bus (inbox, router, outbox), the agents, the ledger and
the providers. Features (``roost.features``: the gateway, Telegram, the scheduler,
delegation) get the core's narrow ports (``roost.ports.CorePorts``), never the App,
and declare what they contribute; the App wires that in here, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from roost.agents.actor import Agent
from roost.agents.observer import TurnObserver
from roost.agents.turn import TurnDeps, TurnOrigin, TurnResult
from roost.agents.warm_up import models_in_use, warm_up
from roost.builtin_features import core_features, unloaded_tools
from roost.bus.agent_channel import AgentChannel
from roost.bus.dispatcher import Dispatcher
from roost.bus.envelope_end import Finisher
from roost.bus.events import EventHub
from roost.bus.router import Router
from roost.bus.store import BusStore
from roost.config.reload_plan import ReloadPlan, plan_reload
from roost.config.settings import AgentSettings, Settings
from roost.errors import StartupError, UnknownAgent
from roost.features.contract import Feature, FeatureFactory
from roost.home import prepare_home
from roost.ledger.budget import BudgetGuard
from roost.ledger.ledger import Ledger
from roost.ledger.pricing import PriceTable
from roost.ports import CorePorts, Outbox
from roost.providers.base import Provider
from roost.providers.breaker import Breakers
from roost.providers.factory import create_provider
from roost.store.conversations import Conversations
from roost.store.database import Database
from roost.store.state import StateStore
from roost.timing.clock import Clock
from roost.tools.files import FILE_TOOLS
from roost.tools.registry import Tool, ToolRegistry

if TYPE_CHECKING:
    from roost.tools.memory import NoteRecall

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Feature)

__all__ = ["App", "StartupError", "UnknownAgent"]


class App:
    """Owns the core of one process and the features built on it.

    ``features`` are built in order from the core's ports, after the features every
    process that runs turns has (delegation, approvals: ``core_features``); `roost run` passes
    the served ones (``served_features``: gateway, Telegram, scheduler). ``clock``
    times the outbox's retries and waits (a test passes a ManualClock).
    """

    def __init__(
        self,
        settings: Settings,
        features: Sequence[FeatureFactory] = (),
        *,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self._loaded_for = settings
        """What the features were chosen for (a reload cannot add the tools of one not loaded)."""
        self.started_at = time.time()
        self.db = Database(settings.store_url)
        self.conversations = Conversations(self.db)
        self.ledger = Ledger(self.db, PriceTable.for_settings(settings))
        self.budget = BudgetGuard.for_settings(
            self.ledger, settings, StateStore(self.db), clock.now if clock else None
        )
        self.providers: dict[str, Provider] = {
            name: create_provider(name, config) for name, config in settings.providers.items()
        }
        self.breakers = Breakers(self.providers, settings.circuit_breaker, clock)
        self.agents: dict[str, Agent] = {}
        self.events = EventHub()
        self.bus = BusStore(self.db)
        self.dispatcher = Dispatcher(self.bus, self.events, clock)
        self.router = Router(
            self.bus,
            self.agents,
            self.events,
            self.dispatcher.push,
            max_turns=settings.max_concurrent_turns,
            finishers=FeatureFinishers(lambda: self.features),
        )
        self.dispatcher.register(AgentChannel(self.router))
        self.ports = CorePorts(
            settings=settings,
            store=self.db,
            inbox=self.router,
            outbox=Outbox(self.bus, self.dispatcher),
            events=self.events,
            agents=MappingProxyType(self.agents),
            sessions=self.conversations,
            usage=self.ledger,
            started_at=self.started_at,
            health=self.health,
            refresh_tools=self._refresh_tools,
            _features=lambda: self.features,
            budget=self.budget,
        )
        factories = [*core_features(settings), *features]
        self.features: tuple[Feature, ...] = tuple(build(self.ports) for build in factories)
        self._wire(self.features)
        # The agents' tools: the built-in ones and every feature's. Only the core
        # changes it (``refresh_tools``), so no feature registers into another's.
        self.tools = ToolRegistry(self._all_tools())
        self._serving = AsyncExitStack()
        self.warmed_up: asyncio.Task[None] | None = None
        """The warm-up started by ``start(recover=True)`` (``roost.agents.warm_up``)."""
        self._warm_up_due = False
        """``start(recover=True)`` began: the warm-up comes once the features serve (until
        then /healthz says ``pending``, not nothing, which a client would read as done)."""

    def _wire(self, features: Sequence[Feature]) -> None:
        """Plug in the features' delivery channels (their finishers the router reads
        through ``FeatureFinishers``)."""
        for feature in features:
            for channel in feature.channels():
                self.dispatcher.register(channel)

    def _all_tools(self) -> list[Tool]:
        return [*FILE_TOOLS, *(tool for feature in self.features for tool in feature.tools())]

    def _refresh_tools(self) -> None:
        """Read the features' tools again (one added or dropped some while running)."""
        self.tools.replace(self._all_tools())

    def feature(self, kind: type[F]) -> F:
        """The feature of type ``kind`` (for the process's owner and tests)."""
        for feature in self.features:
            if isinstance(feature, kind):
                return feature
        raise LookupError(f"no {kind.__name__} in this App")

    async def start(self, *, recover: bool = False) -> None:
        """Open the store and start every agent.

        ``recover`` is for the long-running process only, never a CLI command running
        beside it: it marks turns left running by a dead process as interrupted, runs
        again the messages it had accepted, delivers what it had not sent, and starts
        the features' lifespans (in order; they stop in the reverse order).
        """
        prepare_home(self.settings.home)
        await self.db.open()
        if recover:
            count = await self.conversations.interrupt_running_turns()
            if count:
                log.warning(
                    "marked %d turn(s) left running by a previous process as interrupted", count
                )
        self._start_agents()
        if recover:
            self._warm_up_due = True
            await self.router.recover()
            for feature in self.features:
                await self._serving.enter_async_context(_serving(feature))
            self.dispatcher.start()  # once the channels are up (the gateway, Telegram)
            self.warmed_up = asyncio.create_task(self._warm_up(), name="roost-warm-up")

    async def _warm_up(self) -> None:
        """What the first turn would load (SDKs, prices, metrics), loaded off the loop now."""
        modules = (
            ["roost.gateway.prometheus"]
            if any(feature.name == "gateway" for feature in self.features)
            else []
        )
        await warm_up(
            self.providers,
            models_in_use(self.settings.agents.values()),
            self.ledger.prices,
            modules,
        )

    def _start_agents(self) -> None:
        for name, agent_settings in self.settings.agents.items():
            try:
                agent_settings.workspace.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StartupError(
                    f"agents.{name}.workspace: cannot create {agent_settings.workspace}: "
                    f"{exc.strerror or exc}"
                ) from None
            agent = Agent(self._turn_deps(agent_settings), on_turn=_log_turn)
            agent.start()
            self.agents[name] = agent

    def _turn_deps(self, settings: AgentSettings) -> TurnDeps:
        """What an agent's turns run with (at start, and again at a reload). A provider
        the process has no client for (one a reload names) is left out of the chain."""
        return TurnDeps(
            settings,
            self.providers.get(settings.provider or ""),
            self.conversations,
            self.ledger,
            self.tools,
            self.budget,
            fallbacks=tuple(
                (self.providers[name], model)
                for name, model in settings.fallbacks
                if name in self.providers
            ),
            breakers=self.breakers,
            planner=self.providers.get(settings.planner_provider or ""),
            recall=self._note_recall(settings.memory.auto_recall),
        )

    def reload(self, new: Settings) -> ReloadPlan:
        """Take in what of ``new`` can change while running (each agent's next turn uses
        it); what cannot is left as it runs and named in the plan's ``needs_restart``.

        Raises ``StartupError`` (nothing applied) when a new workspace cannot be made.
        """
        plan = plan_reload(self.settings, new)
        fresh: dict[str, AgentSettings] = {}
        for name, agent in self.agents.items():
            if name not in new.agents:
                continue
            settings = new.agents[name]
            if f"agents.{name}.provider" in plan.needs_restart:
                settings = dataclasses.replace(
                    settings, provider=agent.settings.provider, model=agent.settings.model
                )
            fresh[name] = self._without_unloaded_tools(agent.settings, settings, plan)
        for name, settings in fresh.items():
            try:
                settings.workspace.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StartupError(
                    f"agents.{name}.workspace: cannot create {settings.workspace}: "
                    f"{exc.strerror or exc}"
                ) from None
        for name, settings in fresh.items():
            self.agents[name].deps = self._turn_deps(settings)
        agents = {**self.settings.agents, **fresh}
        self.budget.update(new.budget, {name: a.budget for name, a in agents.items()})
        self.settings = dataclasses.replace(self.settings, agents=agents, budget=new.budget)
        return plan

    def _without_unloaded_tools(
        self, running: AgentSettings, new: AgentSettings, plan: ReloadPlan
    ) -> AgentSettings:
        """``new``, or with ``running``'s tools when it adds a built-in tool whose feature
        this process did not load at start (named in the plan as needing a restart)."""
        added = [entry for entry in new.tools if entry not in running.tools]
        unloaded = unloaded_tools(self._loaded_for, added)
        if not unloaded:
            return new
        key = f"agents.{running.name}.tools"
        if key in plan.applied:
            plan.applied.remove(key)
        plan.needs_restart.append(f"{key} ({', '.join(unloaded)}: loaded only at start)")
        return dataclasses.replace(new, tools=running.tools)

    def _note_recall(self, count: int) -> NoteRecall | None:
        """auto_recall's notes for an agent that asks for ``count`` (imported only then)."""
        if not count:
            return None
        from roost.store.memory import MemoryStore
        from roost.tools.memory import NoteRecall

        return NoteRecall(MemoryStore(self.db), count)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop in the order that loses nothing.

        New messages are refused first (they stay with their sender: an unconfirmed
        Telegram update, an error frame). Running turns get ``grace_s``; their replies
        still go out while the channels are up; then the features stop, in the reverse
        order of their start. What is left stays in the inbox and outbox for the next
        start.
        """
        self.router.close()
        if self.warmed_up is not None:
            self.warmed_up.cancel()  # its thread is left to finish or die with the process
            with contextlib.suppress(asyncio.CancelledError):
                await self.warmed_up
        for agent in self.agents.values():
            await agent.stop(grace_s)
        await self.router.stop()
        await self.dispatcher.stop(grace_s=min(grace_s, 2.0))
        await self._serving.aclose()
        for provider in self.providers.values():
            await provider.aclose()
        await self.db.close()

    def agent(self, name: str) -> Agent:
        try:
            return self.agents[name]
        except KeyError:
            raise UnknownAgent(name, list(self.agents)) from None

    async def ask(
        self,
        agent: str,
        text: str,
        session: str,
        observer: TurnObserver | None = None,
        *,
        planner: bool = False,
    ) -> TurnResult:
        """Run a turn directly, without the inbox (for `roost ask` when no gateway runs);
        ``planner``: on the agent's planner model."""
        origin = TurnOrigin(planner=True) if planner else None
        return await self.agent(agent).ask(session, text, observer, origin)

    def health(self) -> dict[str, Any]:
        components: dict[str, dict[str, Any]] = {"store": {"state": "ok"}}
        if self.providers:
            components["providers"] = self.breakers.health()
        if self.warmed_up is not None:
            components["warm_up"] = {"state": "done" if self.warmed_up.done() else "running"}
        elif self._warm_up_due:
            components["warm_up"] = {"state": "pending"}
        for feature in self.features:
            component = feature.health()
            if component is not None:
                components[feature.name] = component
        return {
            "uptime_s": round(time.time() - self.started_at, 3),
            "agents": {
                name: {
                    "model": agent.deps.settings.model_ref,
                    "busy_sessions": len(agent.busy_sessions),
                    "queued": agent.queue_depth,
                }
                for name, agent in self.agents.items()
            },
            "components": components,
        }


class FeatureFinishers(Mapping[str, Finisher[Any]]):
    """The features' finishers by sender scheme, read-only, as the router reads them when
    a turn ends: the router is built before the features (they get it as their inbox), so
    it is given this view rather than being told about each finisher afterwards. A later
    feature's finisher for a scheme wins over an earlier one's."""

    def __init__(self, features: Callable[[], Sequence[Feature]]) -> None:
        self._features = features
        self._seen: Sequence[Feature] | None = None
        self._by_scheme: dict[str, Finisher[Any]] = {}

    def _current(self) -> dict[str, Finisher[Any]]:
        features = self._features()
        if features is not self._seen:  # collected once the features are built
            self._by_scheme = {
                scheme: finisher
                for feature in features
                for scheme, finisher in feature.finishers().items()
            }
            self._seen = features
        return self._by_scheme

    def __getitem__(self, scheme: str) -> Finisher[Any]:
        return self._current()[scheme]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


@asynccontextmanager
async def _serving(feature: Feature) -> AsyncIterator[None]:
    """A feature's lifespan, whose failure to stop is logged, not raised: the others
    still stop, and the process still closes its store."""
    lifespan = feature.lifespan()
    await lifespan.__aenter__()
    try:
        yield
    finally:
        try:
            await lifespan.__aexit__(None, None, None)
        except Exception:
            log.exception("stopping %s failed", feature.name)


def _log_turn(result: TurnResult) -> None:
    usage = result.usage
    log.info(
        "turn %s %s %s: %d round(s), %d in / %d out tokens (cache %d read, %d write), $%.6f, %.2fs",
        result.agent,
        result.session,
        result.status,
        result.rounds,
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        result.cost_usd,
        result.duration_ms / 1000,
        extra={"agent": result.agent},
    )
