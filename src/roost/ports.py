"""What the core offers the features: narrow ports, not the whole `App`.

A feature (the gateway, Telegram, the scheduler, delegation, or one of yours) gets a
``CorePorts`` when it is built and reaches the core only through it: submit to the
inbox or ask and wait (``inbox``), queue a delivery (``outbox``), watch live events
(``events``), read the agents, sessions, usage and jobs, and keep its own tables in
the store. What it contributes back (delivery channels, tools, finishers, gateway
methods, routes) it declares on its ``Feature``; the core wires those in once, when
it is built. So no feature registers anything on the router or the dispatcher, and
none holds the ``App``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from roost.agents.turn import TurnResult
    from roost.bus.dispatcher import Dispatcher
    from roost.bus.envelope import Delivery, Envelope
    from roost.bus.events import EventHub
    from roost.bus.store import BusStore
    from roost.config.settings import AgentSettings, Settings
    from roost.features.contract import Feature, HttpRoute
    from roost.features.jobs import JobOperations
    from roost.features.methods import Method
    from roost.ledger.budget import BudgetGuard
    from roost.ledger.ledger import Ledger
    from roost.store.conversations import Conversations
    from roost.store.database import Database
    from roost.tools.approval import ApprovalGate


class AgentView(Protocol):
    """What a feature sees of a running agent: its state, and stopping a turn. Messages
    to it go through the inbox, never to the agent directly."""

    @property
    def settings(self) -> AgentSettings:
        """Its configuration (model, tools, limits)."""
        ...

    @property
    def busy_sessions(self) -> list[str]:
        """Sessions with a running turn."""
        ...

    @property
    def queue_depth(self) -> int:
        """Messages waiting for their turn."""
        ...

    def cancel(self, session: str) -> bool:
        """Cancel the turn running in ``session``; False if none runs."""
        ...


class Inbox(Protocol):
    """The way into the agents: every message is stored before it is acknowledged."""

    @property
    def accepting(self) -> bool:
        """False once Roost stops taking messages (then ``submit`` raises RouterStopped)."""
        ...

    @property
    def in_flight(self) -> int:
        """Turns going on."""
        ...

    async def submit(self, envelope: Envelope) -> Envelope:
        """Store ``envelope`` (the acknowledgement) and run its turn in the background."""
        ...

    async def ask(self, envelope: Envelope, timeout_s: float | None = None) -> TurnResult:
        """``submit`` and wait for the turn's result."""
        ...

    def accepted(self, stored: Sequence[tuple[Envelope, bool]]) -> None:
        """Run the turns of envelopes another transaction stored (``(envelope, duplicate)``)."""
        ...

    def waiting_without_slot(self, envelope_id: int | None) -> AbstractAsyncContextManager[None]:
        """While the block waits (an owner's approval), ``envelope_id``'s turn lends its
        turn slot to another turn; it takes one back when the block ends."""
        ...


class OutboxRecords(Protocol):
    """What features read and annotate of the inbox and outbox tables (``BusStore`` is
    one); writing them stays the core's (``Outbox.queue``, the router's finish)."""

    async def envelope(self, envelope_id: int) -> Envelope | None:
        """The stored envelope (delegation and the scheduling tools read its ``reply_to``)."""
        ...

    async def deliveries_for(self, *, job_run_ids: Iterable[int]) -> list[Delivery]:
        """The deliveries of some job runs (the scheduler's run reports)."""
        ...

    async def record_progress(
        self, delivery_id: int, meta: dict[str, Any], *, urgent: bool = False
    ) -> None:
        """Save how far a multi-part delivery got (Telegram's chunks)."""
        ...


class Outbox:
    """The way out: deliveries are stored, then handed to the channels' lanes."""

    def __init__(self, store: BusStore, dispatcher: Dispatcher) -> None:
        self.records: OutboxRecords = store
        """The few reads and annotations features make of the inbox and outbox rows."""
        self._store = store
        self._dispatcher = dispatcher

    async def queue(self, delivery: Delivery) -> Delivery:
        """Store ``delivery`` and send it (in order with the other deliveries to its target)."""
        stored = await self._store.enqueue(delivery)
        self._dispatcher.push([stored])
        return stored

    def push(self, deliveries: Iterable[Delivery]) -> None:
        """Send deliveries already stored (by a transaction of the feature's own)."""
        self._dispatcher.push(deliveries)

    async def recipient_online(self, target: str) -> None:
        """A recipient came (back): what waits for it goes out now."""
        await self._dispatcher.recipient_online(target)

    @property
    def in_flight(self) -> int:
        """Deliveries being sent."""
        return self._dispatcher.in_flight


@dataclass(frozen=True)
class CorePorts:
    """Everything a feature may use of the core (built once, by ``App``)."""

    settings: Settings
    store: Database
    """For a feature's own tables (the scheduler's jobs, Telegram's state)."""
    inbox: Inbox
    outbox: Outbox
    events: EventHub
    agents: Mapping[str, AgentView]
    """The running agents, read-only (filled when the App starts)."""
    sessions: Conversations
    usage: Ledger
    started_at: float
    health: Callable[[], dict[str, Any]]
    """The process's health: uptime, agents, and every feature's component."""
    refresh_tools: Callable[[], None]
    """Ask the core to read every feature's ``tools()`` again: a feature whose tools
    change while Roost runs (an MCP server's, say) calls it. Agents use a tool only if
    their ``tools:`` list names it."""
    _features: Callable[[], Sequence[Feature]] = field(repr=False)
    """The features present; others see only what they offer (below)."""
    budget: BudgetGuard | None = None
    """The caps: a channel adds a sink to tell the owner about budget notices (80%)."""

    def gateway_methods(self) -> list[Method]:
        """The WebSocket methods the features offer (for the gateway to host)."""
        return [method for feature in self._features() for method in feature.gateway_methods()]

    def http_routes(self) -> list[HttpRoute]:
        """The HTTP routes the features offer (for the gateway to serve)."""
        return [route for feature in self._features() for route in feature.http_routes()]

    def approvals(self) -> ApprovalGate | None:
        """The approval gate (``roost.tools.approval``), if a feature gives one."""
        for feature in self._features():
            gate = feature.approval_gate()
            if gate is not None:
                return gate
        return None

    def jobs(self) -> JobOperations | None:
        """The job operations, if a feature runs jobs (the scheduler)."""
        for feature in self._features():
            api = feature.jobs_api()
            if api is not None:
                return api
        return None
