"""What the HTTP API (and the same WebSocket methods) answer, as pydantic models.

The handlers build these, and /openapi.json is generated from them (``openapi.py``),
so the document describes what the server sends. ``defer_build``: a model's schema is
built when it is first used, not when `roost run` starts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Reply(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)


class ErrorDetail(Reply):
    code: str
    message: str
    message_id: int | None = None
    """Only on ``timeout``: the message whose turn goes on."""


class ErrorBody(Reply):
    error: ErrorDetail


class Health(Reply):
    status: str
    uptime_s: float
    components: dict[str, dict[str, Any]]
    agents: dict[str, dict[str, Any]]


class Status(Reply):
    """`roost status` from the running process: /healthz plus the store's figures."""

    version: str
    pid: int
    uptime_s: float
    components: dict[str, dict[str, Any]]
    agents: dict[str, dict[str, Any]]
    turns_today: int
    spend_today_usd: float
    inbox_waiting: int
    outbox_pending: int
    jobs_next_due: list[dict[str, Any]]


class AgentInfo(Reply):
    name: str
    model: str
    fallbacks: list[str]
    """``provider/model`` of each fallback model, in the order they are tried."""
    tools: list[str]
    busy_sessions: int
    queued: int


class Agents(Reply):
    agents: list[AgentInfo]


class SessionSummary(Reply):
    key: str
    messages: int
    updated_at: str


class Sessions(Reply):
    sessions: list[SessionSummary]


class ToolCallOut(Reply):
    id: str
    name: str
    arguments: str
    """The JSON text the model produced (a string, which may be invalid JSON)."""


class MessageOut(Reply):
    role: str
    text: str
    tool_calls: list[ToolCallOut]
    tool_call_id: str | None
    tool_name: str | None
    is_error: bool


class History(Reply):
    messages: list[MessageOut]


class Reset(Reply):
    reset: bool


class Totals(Reply):
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    unpriced_calls: int
    cache_share: float | None
    """Cache-read tokens / every input token (uncached, cache read, cache write)."""
    cost: str
    """``$0.1234``, ``unpriced``, or both when some calls had no known price."""


class Projection(Reply):
    month_to_date_usd: float
    last_7_days_usd: float
    days_left: float
    projected_month_usd: float
    method: str


class Usage(Reply):
    since: str | None
    by: str
    total: Totals
    groups: dict[str, Totals]
    """The totals per value of ``by`` (agent, model, day, role or job)."""
    projection: Projection
    by_agent: dict[str, Totals]
    by_model: dict[str, Totals]


class TurnOut(Reply):
    """``TurnResult.as_dict`` (the fields every surface shows a turn with) and the message."""

    message_id: int
    agent: str
    session: str
    status: str
    text: str
    turn_id: int | None
    rounds: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    duration_ms: int
    error: str | None
