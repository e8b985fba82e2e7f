"""One turn: from a message in to a final answer out, with the tool loop between.

Every step is persisted as it happens (user message, each assistant message, each
tool result, each model call in the ledger), so a crash mid-turn leaves a session
that the next turn can continue from. Steps that happen together share a
transaction: the turn's start and its user message; a model call's ledger row and
the message it produced (and the turn's end, with the final answer, and what the
origin stores with it: the router's envelope finished and its reply queued).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from roost.agents.compaction import ContextWindow, SummaryCall
from roost.agents.failover import call_with_failover
from roost.agents.observer import TurnObserver
from roost.config.settings import NO_PROVIDER_REPLY, AgentSettings
from roost.ledger.budget import BudgetGuard
from roost.ledger.ledger import CallRecord, Ledger, LedgerEntry
from roost.ledger.roles import LedgerRole
from roost.logs import agent_context
from roost.providers.base import (
    Message,
    ModelRequest,
    ModelResponse,
    Provider,
    ToolCall,
    Usage,
)
from roost.providers.breaker import Breakers
from roost.store.conversations import Conversations, TurnEnd, WriteInTransaction
from roost.store.turn_status import TurnStatus
from roost.tools.registry import ToolContext, ToolRegistry
from roost.tools.untrusted import UNTRUSTED_PREAMBLE

if TYPE_CHECKING:
    from roost.agents.planner import Planner

log = logging.getLogger(__name__)

TURN_FIELDS = (
    "agent",
    "session",
    "status",
    "text",
    "turn_id",
    "rounds",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "duration_ms",
    "error",
)
"""The keys of ``TurnResult.as_dict``: what every surface says about a finished turn."""


@dataclass(frozen=True)
class TurnDeps:
    """Everything a turn needs, handed in explicitly."""

    settings: AgentSettings
    provider: Provider | None
    conversations: Conversations
    ledger: Ledger
    tools: ToolRegistry
    budget: BudgetGuard | None = None
    fallbacks: tuple[tuple[Provider, str], ...] = ()
    """(provider, model) tried in order after an outage of the agent's model."""
    breakers: Breakers | None = None
    planner: Provider | None = None
    """The provider of ``settings.planner_model``: with it, the turn offers the ``plan`` tool."""
    recall: Recall | None = None
    """auto_recall: notes to put before a new message (``agents.<name>.memory``)."""


class Recall(Protocol):
    async def __call__(self, agent: str, message: str) -> str | None:
        """A block of notes relevant to ``message``, or None."""
        ...


class AnswerHook(Protocol):
    """More to store with a turn's final answer, in the same transaction: the router's
    ``bus.envelope_end.EnvelopeEnd`` (the envelope finished, its replies queued and what
    its sender's finisher adds). If that transaction fails the answer is stored alone and
    ``stored`` is not called: the router then records the envelope's end by itself."""

    def write(self, result: TurnResult) -> WriteInTransaction:
        """What to write, given the turn's result as it stands with its final answer."""
        ...

    def stored(self) -> None:
        """The transaction committed."""
        ...


@dataclass(frozen=True)
class TurnOrigin:
    """Where a turn's message came from, when it came through the inbox."""

    envelope_id: int | None = None
    sender: str = ""
    depth: int = 0
    """How many delegations led here; tools that delegate refuse past the limit."""
    model: str | None = None
    """A model id overriding the agent's for this turn (a job's ``model``)."""
    planner: bool = False
    """Run the whole turn on the agent's planner model (Telegram's /plan, `roost ask
    --planner`); its calls are recorded with the role ``planner``."""
    recovered: bool = False
    """The envelope is run again after a crash: look for the earlier turn's work."""
    on_answer: AnswerHook | None = None


@dataclass
class TurnResult:
    agent: str
    session: str
    text: str
    status: TurnStatus
    rounds: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    duration_ms: int = 0
    turn_id: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == TurnStatus.OK

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON, one shape for every surface (``TURN_FIELDS``): the reply's
        meta and so ``chat.reply``/``chat.error``, ``turn.finished``, the REST reply and
        ``roost ask --json`` all start from it, so none can drop a field the others carry."""
        return {
            "agent": self.agent,
            "session": self.session,
            "status": str(self.status),
            "text": self.text,
            "turn_id": self.turn_id,
            "rounds": self.rounds,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "cache_read_tokens": self.usage.cache_read_tokens,
            "cache_write_tokens": self.usage.cache_write_tokens,
            "cost_usd": round(self.cost_usd, 8),
            "duration_ms": self.duration_ms,
            "error": self.error,
        }


async def run_turn(
    deps: TurnDeps,
    session: str,
    text: str,
    observer: TurnObserver | None = None,
    origin: TurnOrigin | None = None,
) -> TurnResult:
    """Run one turn for ``session``; the caller guarantees one turn per session at a time.

    A turn for an envelope that already has a turn (the process died during it)
    resumes that turn's work instead of storing the message a second time.
    """
    with agent_context(deps.settings.name):  # its log lines name the agent
        turn = _Turn(deps, session, observer or TurnObserver(), origin or TurnOrigin())
        return await turn.run(text)


class _Turn:
    def __init__(
        self, deps: TurnDeps, session: str, observer: TurnObserver, origin: TurnOrigin
    ) -> None:
        self.deps = deps
        self.agent = deps.settings
        self.session = session
        self.observer = observer
        self.origin = origin
        self.model = origin.model or deps.settings.model
        # Said once, at the end of the stable prefix, so prompt caching keeps working.
        self.system = f"{deps.settings.system}\n\n{UNTRUSTED_PREAMBLE}"
        self.started = time.perf_counter()
        self.result = TurnResult(
            agent=self.agent.name, session=session, text="", status=TurnStatus.OK
        )
        self.finished = False
        """Whether the turn's end is stored (with its last message, or by ``_finish``)."""
        planner_model = deps.settings.planner_model
        self.planner = (
            _planner(deps.planner, planner_model, deps.ledger)
            if deps.planner is not None and planner_model
            else None
        )
        self.turn_id: int | None = None
        self.provider = deps.provider
        self.role = LedgerRole.ROUTINE
        if origin.planner and self.planner is not None:
            self.provider, self.model = self.planner.provider, self.planner.model
            self.role, self.planner = LedgerRole.PLANNER, None

    async def run(self, text: str) -> TurnResult:
        store = self.deps.conversations
        session_id = await store.session_id(self.agent.name, self.session)
        envelope_id = self.origin.envelope_id
        recovered = envelope_id is not None and self.origin.recovered
        tail = (
            await store.last_message_of_envelope(session_id, envelope_id)
            if recovered and envelope_id
            else None
        )
        # The turn and its user message (unless stored by the interrupted turn) go in together.
        start = await store.begin_turn(
            session_id, self.agent.name, envelope_id, await self._with_notes(text, tail is None)
        )
        turn_id = self.result.turn_id = self.turn_id = start.turn_id
        try:
            if tail is not None and tail.role == "assistant" and not tail.tool_calls:
                self.result.text = tail.text  # the answer was stored; only the finish was lost
            else:
                window = ContextWindow(
                    self.agent,
                    store.summaries,
                    session_id,
                    start.ids,
                    await store.summaries.get(session_id) if self.agent.compaction else None,
                    system=self.system,
                )
                await self._loop(turn_id, start.history, window)
        except asyncio.CancelledError:
            self.result.status = TurnStatus.INTERRUPTED
            await asyncio.shield(self._finish(turn_id))
            raise
        except Exception as exc:
            # Left "running", the turn would look alive until the next restart.
            self.result.status, self.result.error = TurnStatus.ERROR, repr(exc)
            with contextlib.suppress(Exception):
                await self._finish(turn_id)
            raise
        if not self.finished:
            await self._finish(turn_id)
        return self.result

    async def _with_notes(self, text: str, new: bool) -> str | None:
        """The user message to store: ``text`` after the notes auto_recall finds (stored
        with it, so the history the next turns send, and cache, stays the same)."""
        recall = self.deps.recall
        if not new or recall is None:
            return text if new else None
        try:
            notes = await recall(self.agent.name, text)
        except Exception:
            log.exception("agent %s: recalling notes failed; going on without", self.agent.name)
            return text
        return f"{notes}\n\n{text}" if notes else text

    async def _loop(self, turn_id: int, history: list[Message], window: ContextWindow) -> None:
        if self.provider is None:
            self.result.status, self.result.text = TurnStatus.UNCONFIGURED, NO_PROVIDER_REPLY
            return
        context = ToolContext(
            self.agent.name,
            self.session,
            self.agent.workspace,
            depth=self.origin.depth,
            envelope_id=self.origin.envelope_id,
        )
        for _ in range(self.agent.max_tool_rounds):
            if await self._over_budget():
                return
            self.result.rounds += 1
            response, entry = await self._call_model(self.provider, history, turn_id, window)
            self.result.cost_usd += entry.cost_usd if entry is not None else 0.0
            if response is None or entry is None:
                await self._finish(turn_id, entry)  # the failed call is in the ledger too
                return
            self._add_usage(response.usage)
            reply = Message(role="assistant", text=response.text, tool_calls=response.tool_calls)
            final = not response.tool_calls
            if final:
                self.result.text = response.text
            await self._store_reply(window.session_id, turn_id, reply, entry, final)
            if final:
                return
            history.append(reply)
            for call in response.tool_calls:
                result = await self._run_tool(call, context)
                await self.deps.conversations.append(window.session_id, turn_id, result)
                history.append(result)
        self.result.status = TurnStatus.MAX_ROUNDS
        self.result.text = (
            f"Stopped after {self.agent.max_tool_rounds} tool rounds without a final answer "
            f"(max_tool_rounds in agents.{self.agent.name}). Ask again to let it continue."
        )

    async def _store_reply(
        self, session_id: int, turn_id: int, reply: Message, entry: LedgerEntry, final: bool
    ) -> None:
        """Store the model's message with its ledger row; a final answer also with the
        turn's end and what the origin stores with it (``TurnOrigin.on_answer``)."""
        attempts: list[tuple[WriteInTransaction, ...]] = [(entry.write,)]
        end = hook = None
        if final:
            end = self._end()
            hook = self.origin.on_answer
            if hook is not None:
                try:
                    attempts.insert(0, (entry.write, hook.write(self.result)))
                except Exception:
                    log.exception("preparing the envelope's end with the answer failed")
                    hook = None
        for attempt, also in enumerate(attempts, 1):
            try:
                await self.deps.conversations.append(session_id, turn_id, reply, also=also, end=end)
                break
            except Exception:
                if attempt < len(attempts):
                    # The answer alone, then: the origin records the rest by itself.
                    log.warning("storing the answer with the envelope's end failed; retrying")
                    hook = None
                    continue
                # The call was made and is paid for: keep its ledger row if at all possible.
                with contextlib.suppress(Exception):
                    await self.deps.ledger.store(entry)
                raise
        self.finished = final
        if hook is not None:
            hook.stored()

    async def _call_model(
        self, provider: Provider, history: list[Message], turn_id: int, window: ContextWindow
    ) -> tuple[ModelResponse | None, LedgerEntry | None]:
        """Make one call (failing over along the chain); its ledger row is stored by the
        caller, with what it produced."""
        tools = self.deps.tools.specs(self.agent.tools)
        if self.planner is not None:
            tools = (*tools, self.planner.spec)
        summary_call = SummaryCall(
            provider, self.deps.ledger, self.session, turn_id, self._add_spent
        )
        request = ModelRequest(
            model=self.model,
            system=self.system,
            messages=tuple(await window.messages(history, tools, summary_call)),
            tools=tools,
            max_tokens=self.agent.max_tokens,
            temperature=self.agent.temperature,
        )
        outcome = await call_with_failover(
            ((provider, self.model), *self.deps.fallbacks),
            request,
            self.observer,
            self.deps.ledger,
            self._record,
            self.deps.breakers,
            self.role,
        )
        response, error = outcome.response, outcome.error
        if response is None:
            self.result.status, self.result.error = TurnStatus.ERROR, error
            self.result.text = f"The model call failed: {error}"
        return response, outcome.entry

    def _record(
        self,
        provider: Provider,
        model: str,
        response: ModelResponse | None,
        error: str | None,
        duration_ms: int,
    ) -> CallRecord:
        return CallRecord(
            agent=self.agent.name,
            session_key=self.session,
            provider=provider.name,
            model=response.model if response and response.model else model,
            usage=response.usage if response else Usage(),
            duration_ms=duration_ms,
            turn_id=self.result.turn_id,
            error=error,
        )

    async def _over_budget(self) -> bool:
        if self.deps.budget is None:
            return False
        check = await self.deps.budget.check(self.agent.name)
        if check.downgrade:
            self._downgrade()
        refusal = check.refusal
        if refusal is None:
            return False
        log.warning("agent %s: model call refused: %s", self.agent.name, refusal)
        self.result.status, self.result.text = TurnStatus.OVER_BUDGET, refusal
        return True

    def _downgrade(self) -> None:
        """A ``downgrade`` cap is reached: the rest of the turn runs on the cheapest model
        configured for the agent (its model, planner model and fallbacks, by input + output
        price) and the planner is not offered."""
        candidates = [(self.deps.provider, self.model), (self.deps.provider, self.agent.model)]
        if self.deps.planner is not None and self.agent.planner_model:
            candidates.append((self.deps.planner, self.agent.planner_model))
        candidates += self.deps.fallbacks  # configured too: one may be the cheapest
        prices = self.deps.ledger.prices
        priced = [
            (price.input + price.output, provider, model)
            for provider, model in candidates
            if provider is not None and (price := prices.lookup(provider.name, model)) is not None
        ]
        if priced:
            _, provider, model = min(priced, key=lambda item: item[0])
            if (provider, model) != (self.provider, self.model):
                log.warning(
                    "agent %s: budget reached, downgraded to %s/%s",
                    self.agent.name,
                    provider.name,
                    model,
                )
            self.provider, self.model = provider, model
            self.role = LedgerRole.ROUTINE if model == self.agent.model else self.role
        self.planner = None

    async def _run_tool(self, call: ToolCall, context: ToolContext) -> Message:
        await self.observer.on_tool_start(call)
        if self.planner is not None and call.name == self.planner.tool_name:
            outcome, cost = await self.planner.answer(
                call, self.agent.name, self.session, self.turn_id
            )
            self.result.cost_usd += cost
        else:
            outcome = await self.deps.tools.run(call, context, self.agent.tools)
        await self.observer.on_tool_end(call, outcome)
        return Message(
            role="tool",
            text=outcome.text,
            tool_call_id=call.id,
            tool_name=call.name,
            is_error=outcome.is_error,
        )

    def _add_spent(self, cost_usd: float, usage: Usage) -> None:
        """A call made for the turn besides its own (a summary): billed to it too."""
        self.result.cost_usd += cost_usd
        self._add_usage(usage)

    def _add_usage(self, usage: Usage) -> None:
        total = self.result.usage
        self.result.usage = Usage(
            input_tokens=total.input_tokens + usage.input_tokens,
            output_tokens=total.output_tokens + usage.output_tokens,
            cache_read_tokens=total.cache_read_tokens + usage.cache_read_tokens,
            cache_write_tokens=total.cache_write_tokens + usage.cache_write_tokens,
        )

    def _end(self) -> TurnEnd:
        self.result.duration_ms = int((time.perf_counter() - self.started) * 1000)
        return TurnEnd(self.result.status, self.result.rounds, self.result.error)

    async def _finish(self, turn_id: int, entry: LedgerEntry | None = None) -> None:
        end = self._end()
        await self.deps.conversations.finish_turn(
            turn_id,
            end.status,
            end.rounds,
            end.error,
            also=(entry.write,) if entry is not None else (),
        )
        self.finished = True


def _planner(provider: Provider, model: str, ledger: Ledger) -> Planner:
    """An agent's planner: its module (the ``plan`` tool's schema) is imported only for
    agents that have one."""
    from roost.agents.planner import Planner

    return Planner(provider, model, ledger)
