"""Read and admin operations shared by the WebSocket methods and the REST API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from roost.app import UnknownAgent
from roost.gateway.protocol import BAD_REQUEST, NOT_FOUND, UNKNOWN_AGENT, MethodError

if TYPE_CHECKING:
    from roost.agents.actor import Agent
    from roost.app import App
    from roost.providers.base import Message


def require_agent(app: App, name: str) -> Agent:
    agent = app.agents.get(name)
    if agent is None:
        raise MethodError(UNKNOWN_AGENT, str(UnknownAgent(name, list(app.agents))))
    return agent


def health(app: App) -> dict[str, Any]:
    return {"status": "ok", **app.health()}


def agents_list(app: App) -> dict[str, Any]:
    return {
        "agents": [
            {
                "name": name,
                "model": agent.deps.settings.model_ref,
                "tools": list(agent.deps.settings.tools),
                "busy_sessions": len(agent.busy_sessions),
                "queued": agent.queue_depth,
            }
            for name, agent in app.agents.items()
        ]
    }


async def sessions_list(app: App, agent: str) -> dict[str, Any]:
    require_agent(app, agent)
    sessions = await app.conversations.list_sessions(agent)
    return {
        "sessions": [
            {"key": s.key, "messages": s.messages, "updated_at": _iso(s.updated_at)}
            for s in sessions
        ]
    }


async def session_history(app: App, agent: str, key: str, limit: int) -> dict[str, Any]:
    require_agent(app, agent)
    known = {s.key for s in await app.conversations.list_sessions(agent)}
    if key not in known:
        raise MethodError(NOT_FOUND, f"agent {agent} has no session {key!r}")
    session_id = await app.conversations.session_id(agent, key)
    history = await app.conversations.history(session_id, limit=limit)
    return {"messages": [message_json(message) for message in history]}


async def session_reset(app: App, agent: str, key: str) -> dict[str, Any]:
    require_agent(app, agent)
    return {"reset": await app.conversations.reset_session(agent, key)}


async def usage_summary(app: App, since: str | None) -> dict[str, Any]:
    start = parse_since(since) if since else None
    report = await app.ledger.report(start)
    return {
        "since": _iso(start) if start else None,
        "total": report.total.as_dict(),
        "by_agent": {name: totals.as_dict() for name, totals in report.by_agent.items()},
        "by_model": {name: totals.as_dict() for name, totals in report.by_model.items()},
    }


def parse_since(text: str) -> datetime:
    """``YYYY-MM-DD`` or an ISO datetime, as naive UTC (how the ledger stores times)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise MethodError(
            BAD_REQUEST, f"since: {text!r} is not a date (YYYY-MM-DD) or an ISO datetime"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def message_json(message: Message) -> dict[str, Any]:
    return {
        "role": message.role,
        "text": message.text,
        "tool_calls": [
            {"id": call.id, "name": call.name, "arguments": call.arguments_json}
            for call in message.tool_calls
        ],
        "tool_call_id": message.tool_call_id,
        "tool_name": message.tool_name,
        "is_error": message.is_error,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat()
