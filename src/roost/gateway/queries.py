"""Read and admin operations shared by the WebSocket methods and the REST API.

Each returns the reply model (``models.py``); the WebSocket methods send its JSON
form, the REST API the same, and /openapi.json is generated from the models.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from roost.errors import UnknownAgent
from roost.gateway.models import (
    AgentInfo,
    Agents,
    Health,
    History,
    MessageOut,
    Reset,
    Sessions,
    SessionSummary,
    Status,
    ToolCallOut,
    Usage,
)
from roost.gateway.protocol import BAD_REQUEST, NOT_FOUND, UNKNOWN_AGENT, MethodError

if TYPE_CHECKING:
    from roost.ports import AgentView, CorePorts
    from roost.providers.base import Message

_LEAP_SECOND = re.compile(r"(T\d\d:\d\d):60")


def require_agent(core: CorePorts, name: str) -> AgentView:
    agent = core.agents.get(name)
    if agent is None:
        raise MethodError(UNKNOWN_AGENT, str(UnknownAgent(name, list(core.agents))))
    return agent


def health(core: CorePorts) -> Health:
    return Health.model_validate({"status": "ok", **core.health()})


async def status(core: CorePorts) -> Status:
    from roost import __version__
    from roost.bus.store import BusStore
    from roost.ledger.budget import period_start
    from roost.store.status_counts import read_store_figures

    figures = await read_store_figures(core.store, period_start("daily"))
    figures.inbox_waiting, figures.outbox_pending = await BusStore(core.store).queue_depths()
    return Status.model_validate(
        {"version": __version__, "pid": os.getpid(), **core.health(), **figures.as_dict()}
    )


def agents_list(core: CorePorts) -> Agents:
    return Agents(
        agents=[
            AgentInfo(
                name=name,
                model=agent.settings.model_ref,
                fallbacks=[f"{provider}/{model}" for provider, model in agent.settings.fallbacks],
                tools=list(agent.settings.tools),
                busy_sessions=len(agent.busy_sessions),
                queued=agent.queue_depth,
            )
            for name, agent in core.agents.items()
        ]
    )


async def sessions_list(core: CorePorts, agent: str) -> Sessions:
    """The sessions that have messages (a reset one has none: it is gone), newest first."""
    require_agent(core, agent)
    sessions = await core.sessions.list_sessions(agent)
    return Sessions(
        sessions=[
            SessionSummary(key=s.key, messages=s.messages, updated_at=_iso(s.updated_at))
            for s in sessions
            if s.messages
        ]
    )


async def session_history(core: CorePorts, agent: str, key: str, limit: int) -> History:
    require_agent(core, agent)
    if key not in await _live_sessions(core, agent):
        raise MethodError(NOT_FOUND, f"agent {agent} has no session {key!r}")
    session_id = await core.sessions.session_id(agent, key)
    history = await core.sessions.history(session_id, limit=limit)
    return History(messages=[message_json(message) for message in history])


async def session_reset(core: CorePorts, agent: str, key: str) -> Reset:
    """``reset`` is false when there was nothing to forget (no such session, or reset)."""
    require_agent(core, agent)
    had = key in await _live_sessions(core, agent)
    await core.sessions.reset_session(agent, key)
    return Reset(reset=had)


async def usage_summary(core: CorePorts, since: str | None, by: str = "agent") -> Usage:
    """What `roost cost --json` prints (less its budgets and price sources)."""
    from roost.ledger.cost_report import parse_window, summary

    start: datetime | None = None
    if since is not None:
        try:  # a span back from now ("7d"), like `roost cost --since`
            start = datetime.now(UTC).replace(tzinfo=None) - parse_window(since)
        except ValueError:
            start = parse_since(since)
    try:
        data = await summary(core.usage, start, by)
    except ValueError as exc:  # an unknown ``by``
        raise MethodError(BAD_REQUEST, str(exc)) from None
    return Usage.model_validate(data)


def parse_since(text: str) -> datetime:
    """``YYYY-MM-DD`` or an ISO (RFC 3339) datetime, as naive UTC (how the ledger stores
    times). A leap second counts as the second before; a moment past the calendar's ends
    in UTC is that end."""
    value = _LEAP_SECOND.sub(r"\1:59", text.strip().upper())
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MethodError(
            BAD_REQUEST, f"since: {text!r} is not a date (YYYY-MM-DD) or an ISO datetime"
        ) from None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            moment = datetime.min if moment.year == 1 else datetime.max
    return moment


def message_json(message: Message) -> MessageOut:
    return MessageOut(
        role=message.role,
        text=message.text,
        tool_calls=[
            ToolCallOut(id=call.id, name=call.name, arguments=call.arguments_json)
            for call in message.tool_calls
        ],
        tool_call_id=message.tool_call_id,
        tool_name=message.tool_name,
        is_error=message.is_error,
    )


async def _live_sessions(core: CorePorts, agent: str) -> set[str]:
    """The keys of the sessions with messages (sessions are never deleted, only emptied)."""
    return {s.key for s in await core.sessions.list_sessions(agent) if s.messages}


def _iso(moment: datetime) -> str:
    return moment.isoformat()
