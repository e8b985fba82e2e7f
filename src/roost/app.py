"""The process wiring: the one place that starts and stops Roost's parts in order."""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from roost.agents.actor import Agent
from roost.agents.observer import TurnObserver
from roost.agents.turn import TurnDeps, TurnResult
from roost.bus.agent_channel import AgentChannel
from roost.bus.dispatcher import Dispatcher
from roost.bus.envelope import Delivery
from roost.bus.events import EventHub
from roost.bus.router import Router
from roost.bus.store import BusStore
from roost.config.settings import Settings
from roost.home import prepare_home
from roost.ledger.budget import BudgetGuard
from roost.ledger.ledger import Ledger
from roost.ledger.pricing import PriceTable
from roost.providers.base import Provider
from roost.providers.factory import create_provider
from roost.store.conversations import Conversations
from roost.store.database import Database
from roost.tools.builtin import builtin_registry
from roost.tools.delegation import Delegation

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Something the configuration asks for cannot be set up; the message names the key."""


class UnknownAgent(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown agent '{name}' (known: {', '.join(known) or 'none'})")


class Service(Protocol):
    """A long-lived part of `roost run` (gateway, Telegram, scheduler), started in order."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> dict[str, Any]:
        """The part's state for /healthz: at least ``{"state": "..."}``."""
        ...


class App:
    """Owns the store, the bus, the providers, the agents and the services of one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started_at = time.time()
        self.db = Database(settings.store_url)
        self.conversations = Conversations(self.db)
        self.ledger = Ledger(self.db, PriceTable.for_settings(settings))
        self.budget = BudgetGuard.for_settings(self.ledger, settings)
        self.providers: dict[str, Provider] = {
            name: create_provider(name, config) for name, config in settings.providers.items()
        }
        self.agents: dict[str, Agent] = {}
        self.events = EventHub()
        self.bus = BusStore(self.db)
        self.dispatcher = Dispatcher(self.bus, self.events)
        self.router = Router(
            self.bus,
            self.agents,
            self.events,
            self.dispatcher.push,
            max_turns=settings.max_concurrent_turns,
        )
        self.dispatcher.register(AgentChannel(self.router))
        self.tools = builtin_registry()
        delegation = Delegation(
            self.router,
            self.bus,
            lambda: list(self.agents),
            self.dispatcher.push,
            settings.max_delegation_depth,
        )
        for tool in delegation.tools():
            self.tools.register(tool)
        self.services: list[Service] = []

    async def start(self, *, recover: bool = False) -> None:
        """Open the store and start every agent.

        ``recover`` is for the long-running process only, never a CLI command running
        beside it: it marks turns left running by a dead process as interrupted, runs
        again the messages it had accepted, delivers what it had not sent, and starts
        the services (``self.services``, in order).
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
            await self.router.recover()
            for service in self.services:
                await service.start()
            self.dispatcher.start()  # after the services registered their channels

    def _start_agents(self) -> None:
        for name, agent_settings in self.settings.agents.items():
            try:
                agent_settings.workspace.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StartupError(
                    f"agents.{name}.workspace: cannot create {agent_settings.workspace}: "
                    f"{exc.strerror or exc}"
                ) from None
            provider = self.providers.get(agent_settings.provider or "")
            deps = TurnDeps(
                agent_settings, provider, self.conversations, self.ledger, self.tools, self.budget
            )
            agent = Agent(deps, on_turn=_log_turn)
            agent.start()
            self.agents[name] = agent

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop in the order that loses nothing.

        New messages are refused first (they stay with their sender: an unconfirmed
        Telegram update, an error frame). Running turns get ``grace_s``; their replies
        still go out while the channels are up. What is left stays in the inbox and
        outbox for the next start.
        """
        self.router.close()
        for agent in self.agents.values():
            await agent.stop(grace_s)
        await self.router.stop()
        await self.dispatcher.stop(grace_s=min(grace_s, 2.0))
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", service.name)
        for provider in self.providers.values():
            await provider.aclose()
        await self.db.close()

    def agent(self, name: str) -> Agent:
        try:
            return self.agents[name]
        except KeyError:
            raise UnknownAgent(name, list(self.agents)) from None

    async def ask(
        self, agent: str, text: str, session: str, observer: TurnObserver | None = None
    ) -> TurnResult:
        """Run a turn directly, without the inbox (for `roost ask` when no gateway runs)."""
        return await self.agent(agent).ask(session, text, observer)

    def push_deliveries(self, deliveries: list[Delivery]) -> None:
        self.dispatcher.push(deliveries)

    def health(self) -> dict[str, Any]:
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
            "components": {
                "store": {"state": "ok"},
                **{service.name: service.health() for service in self.services},
            },
        }


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
    )
