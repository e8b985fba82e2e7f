"""A turn's progress as live events on its session's topic (chat.delta, chat.restart,
chat.tool)."""

from __future__ import annotations

from roost.agents.observer import TurnObserver
from roost.bus.envelope import Envelope
from roost.bus.events import EventHub, session_topic
from roost.providers.base import ToolCall
from roost.tools.registry import ToolOutcome

SUMMARY_CHARS = 120


class SessionEvents(TurnObserver):
    def __init__(self, events: EventHub, agent: str, envelope: Envelope) -> None:
        self._events = events
        self._agent = agent
        self._envelope = envelope
        self._topic = session_topic(agent, envelope.session)

    def _base(self) -> dict[str, object]:
        return {
            "agent": self._agent,
            "session": self._envelope.session,
            "message_id": self._envelope.id,
        }

    async def on_text(self, delta: str) -> None:
        if self._events.watched(self._topic):
            self._events.publish(self._topic, "chat.delta", self._base() | {"text": delta})

    async def on_restart(self) -> None:
        if self._events.watched(self._topic):
            self._events.publish(self._topic, "chat.restart", self._base())

    async def on_tool_start(self, call: ToolCall) -> None:
        if self._events.watched(self._topic):
            self._events.publish(
                self._topic,
                "chat.tool",
                self._base()
                | {
                    "phase": "started",
                    "tool": call.name,
                    "call_id": call.id,
                    "summary": summarize(call.arguments_json),
                },
            )

    async def on_tool_end(self, call: ToolCall, outcome: ToolOutcome) -> None:
        if self._events.watched(self._topic):
            self._events.publish(
                self._topic,
                "chat.tool",
                self._base()
                | {
                    "phase": "finished",
                    "tool": call.name,
                    "call_id": call.id,
                    "is_error": outcome.is_error,
                    "summary": summarize(outcome.text),
                },
            )


def summarize(text: str, limit: int = SUMMARY_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
