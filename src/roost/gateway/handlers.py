"""The built-in WebSocket methods: health, agents, chat, sessions, usage, budget,
subscriptions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from roost.bus.envelope import Envelope, agent_address
from roost.bus.events import AGENTS, JOBS, TRAFFIC, session_topic
from roost.gateway import queries
from roost.gateway.methods import CallContext, MethodError, MethodRegistry, NoParams, Params
from roost.gateway.protocol import BAD_REQUEST
from roost.tools.approval import APPROVALS_TOPIC

FIXED_TOPICS = (AGENTS, TRAFFIC, JOBS, APPROVALS_TOPIC)
AgentName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
SessionKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ChatSendParams(Params):
    agent: AgentName
    text: Annotated[str, StringConstraints(min_length=1)]
    session: SessionKey = "main"
    planner: bool = False
    """Run this message's turn on the agent's ``planner_model`` (ledger role ``planner``),
    as Telegram's ``/plan`` and `roost ask --planner` do."""


class AgentSessionParams(Params):
    agent: AgentName
    session: SessionKey


class AgentParams(Params):
    agent: AgentName


class HistoryParams(AgentSessionParams):
    limit: int = Field(default=50, ge=1, le=1000)


class BudgetSetParams(Params):
    agent: AgentName
    """An agent's name, or ``all`` for the overall cap."""
    period: Literal["daily", "monthly"]
    usd: float


class UsageParams(Params):
    since: str | None = None
    by: Literal["agent", "model", "day", "role", "job"] = "agent"


class TopicsParams(Params):
    topics: list[str] = Field(min_length=1, max_length=100)

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, topics: list[str]) -> list[str]:
        for topic in topics:
            if not valid_topic(topic):
                raise ValueError(
                    f"unknown topic {topic!r}: use agents, traffic, jobs, approvals or "
                    "session:<agent>:<key>"
                )
        return topics


def valid_topic(topic: str) -> bool:
    if topic in FIXED_TOPICS:
        return True
    kind, _, rest = topic.partition(":")
    agent, _, key = rest.partition(":")
    return kind == "session" and bool(agent) and bool(key)


async def _health(context: CallContext, _: NoParams) -> dict[str, Any]:
    return queries.health(context.core).model_dump(mode="json")


async def _agents_list(context: CallContext, _: NoParams) -> dict[str, Any]:
    return queries.agents_list(context.core).model_dump(mode="json")


async def _chat_send(context: CallContext, params: ChatSendParams) -> dict[str, Any]:
    """Store the message (the acknowledgement), then stream the turn to this connection."""
    peer = context.require_peer()
    agent = queries.require_agent(context.core, params.agent)
    if params.planner and agent.settings.planner_model is None:
        raise MethodError(
            BAD_REQUEST,
            f"agent '{params.agent}' has no planner model: set agents.{params.agent}.planner_model",
        )
    peer.subscribe(session_topic(params.agent, params.session))
    address = f"ws:{peer.client_id}"
    envelope = await context.core.inbox.submit(
        Envelope(
            sender=address,
            recipient=agent_address(params.agent),
            session=params.session,
            body=params.text,
            reply_to=address,
            meta={"planner": True} if params.planner else {},
        )
    )
    return {"message_id": envelope.id, "session": envelope.session}


async def _chat_cancel(context: CallContext, params: AgentSessionParams) -> dict[str, Any]:
    agent = queries.require_agent(context.core, params.agent)
    return {"cancelled": agent.cancel(params.session)}


async def _sessions_list(context: CallContext, params: AgentParams) -> dict[str, Any]:
    return (await queries.sessions_list(context.core, params.agent)).model_dump(mode="json")


async def _sessions_history(context: CallContext, params: HistoryParams) -> dict[str, Any]:
    history = await queries.session_history(
        context.core, params.agent, params.session, params.limit
    )
    return history.model_dump(mode="json")


async def _sessions_reset(context: CallContext, params: AgentSessionParams) -> dict[str, Any]:
    reset = await queries.session_reset(context.core, params.agent, params.session)
    return reset.model_dump(mode="json")


async def _usage_summary(context: CallContext, params: UsageParams) -> dict[str, Any]:
    usage = await queries.usage_summary(context.core, params.since, params.by)
    return usage.model_dump(mode="json")


async def _budget_set(context: CallContext, params: BudgetSetParams) -> dict[str, Any]:
    """`roost budget set` while Roost runs: the running process stores the cap and its
    budget check (which keeps the caps in memory) uses it from the next model call."""
    from roost.ledger.budget import CapError

    budget = context.core.budget
    if budget is None:
        raise MethodError(BAD_REQUEST, "this Roost keeps no budgets")
    agent = None if params.agent == "all" else params.agent
    try:
        key = await budget.set_cap(agent, params.period, params.usd)
    except CapError as exc:
        raise MethodError(BAD_REQUEST, str(exc)) from None
    return {"config_key": key, "usd": params.usd}


async def _subscribe(context: CallContext, params: TopicsParams) -> dict[str, Any]:
    peer = context.require_peer()
    for topic in params.topics:
        peer.subscribe(topic)
    return {"topics": peer.topics}


async def _unsubscribe(context: CallContext, params: TopicsParams) -> dict[str, Any]:
    peer = context.require_peer()
    for topic in params.topics:
        peer.unsubscribe(topic)
    return {"topics": peer.topics}


async def _budgets_list(context: CallContext, _: NoParams) -> dict[str, Any]:
    """Every configured cap with what its period spent so far (``roost cost --json``'s
    ``budgets``, plus ``state``, ``on_exceed``, ``config_key`` and ``period_start``)."""
    guard = context.core.budget
    statuses = await guard.statuses() if guard is not None else []
    return {
        "budgets": [
            {
                "scope": status.scope,
                "period": status.period,
                "limit_usd": status.limit_usd,
                "spent_usd": round(status.spent_usd, 8),
                "exhausted": status.exhausted,
                "state": status.state,
                "on_exceed": status.on_exceed,
                "config_key": status.config_key,
                "period_start": status.period_start.isoformat() if status.period_start else None,
            }
            for status in statuses
        ]
    }


def register_builtin(registry: MethodRegistry) -> None:
    registry.register("health", NoParams, _health)
    registry.register("agents.list", NoParams, _agents_list)
    registry.register("chat.send", ChatSendParams, _chat_send)
    registry.register("chat.cancel", AgentSessionParams, _chat_cancel)
    registry.register("sessions.list", AgentParams, _sessions_list)
    registry.register("sessions.history", HistoryParams, _sessions_history)
    registry.register("sessions.reset", AgentSessionParams, _sessions_reset)
    registry.register("usage.summary", UsageParams, _usage_summary)
    registry.register("budget.set", BudgetSetParams, _budget_set)
    registry.register("subscribe", TopicsParams, _subscribe)
    registry.register("unsubscribe", TopicsParams, _unsubscribe)
    registry.register("budgets.list", NoParams, _budgets_list)
