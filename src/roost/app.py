"""The process wiring: the one place that starts and stops Roost's parts in order."""

from __future__ import annotations

import logging

from roost.agents.actor import Agent
from roost.agents.observer import TurnObserver
from roost.agents.turn import TurnDeps, TurnResult
from roost.config.schema import ModelPrice
from roost.config.settings import Settings
from roost.home import prepare_home
from roost.ledger.budget import BudgetGuard
from roost.ledger.ledger import Ledger
from roost.ledger.pricing import Price, PriceTable
from roost.providers.base import Provider
from roost.providers.factory import create_provider
from roost.store.conversations import Conversations
from roost.store.database import Database
from roost.tools.builtin import builtin_registry

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Something the configuration asks for cannot be set up; the message names the key."""


class UnknownAgent(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown agent '{name}' (known: {', '.join(known) or 'none'})")


class App:
    """Owns the store, the providers and the agents of one Roost process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.store_url)
        self.conversations = Conversations(self.db)
        self.ledger = Ledger(self.db, PriceTable(_prices(settings.prices)))
        self.budget = BudgetGuard.for_settings(self.ledger, settings)
        self.tools = builtin_registry()
        self.providers: dict[str, Provider] = {
            name: create_provider(name, config) for name, config in settings.providers.items()
        }
        self.agents: dict[str, Agent] = {}

    async def start(self, *, recover: bool = False) -> None:
        """Open the store and start every agent.

        ``recover`` marks turns left running by a dead process as interrupted; only
        the long-running process does that, never a CLI command running beside it.
        """
        prepare_home(self.settings.home)
        await self.db.open()
        if recover:
            count = await self.conversations.interrupt_running_turns()
            if count:
                log.warning(
                    "marked %d turn(s) left running by a previous process as interrupted", count
                )
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
        for agent in self.agents.values():
            await agent.stop(grace_s)
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
        return await self.agent(agent).ask(session, text, observer)


def _prices(overrides: dict[str, ModelPrice]) -> dict[str, Price]:
    # Unset cache rates fall back to the input rate: never cheaper than reality.
    return {
        key: Price(
            input=price.input,
            output=price.output,
            cache_read=price.input if price.cache_read is None else price.cache_read,
            cache_write=price.input if price.cache_write is None else price.cache_write,
        )
        for key, price in overrides.items()
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
