"""Live events: what is happening now, for whoever is watching (never stored).

Publishing never waits: a subscriber is a plain callback that must only queue the
event (the gateway keeps a bounded queue per connection). Durable things — messages
and replies — go through the inbox and outbox; events are the running commentary.

Topics: ``session:<agent>:<key>`` (chat.delta, chat.tool), ``traffic`` (every
envelope and delivery), ``agents`` (turn.started, turn.finished), ``jobs``
(job.started, job.finished).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

TRAFFIC = "traffic"
AGENTS = "agents"
JOBS = "jobs"


def session_topic(agent: str, session: str) -> str:
    return f"session:{agent}:{session}"


@dataclass(frozen=True)
class Event:
    topic: str
    name: str
    data: dict[str, Any]


Subscriber = Callable[[Event], None]


class EventHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscriber]] = {}

    def subscribe(self, topic: str, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` for every event on ``topic``; returns the unsubscribe function."""
        self._subscribers.setdefault(topic, []).append(subscriber)

        def unsubscribe() -> None:
            listeners = self._subscribers.get(topic, [])
            if subscriber in listeners:
                listeners.remove(subscriber)
            if not listeners:
                self._subscribers.pop(topic, None)

        return unsubscribe

    def watched(self, topic: str) -> bool:
        """Whether anyone listens: lets publishers skip building events nobody reads."""
        return topic in self._subscribers

    def publish(self, topic: str, name: str, data: dict[str, Any]) -> None:
        listeners = self._subscribers.get(topic)
        if not listeners:
            return
        event = Event(topic, name, data)
        for subscriber in list(listeners):
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber failed on %s %s", topic, name)
