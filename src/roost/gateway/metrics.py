"""Prometheus metrics for /metrics, in a registry of their own (one per gateway).

Counters move with the ``turn.finished`` events on the ``agents`` topic; gauges
(queues, busy sessions, connections, in-flight messages, uptime) are read at
scrape time. Agent labels are limited to configured agents (others count as
``_unknown``) so a client cannot create series at will.

The metrics are prometheus_client's own (``prometheus.py``), created at the first
finished turn or scrape, whichever comes first, so start-up does not import the package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from roost.bus.events import AGENTS, Event

if TYPE_CHECKING:
    from roost.gateway.prometheus import TurnMetrics
    from roost.ports import CorePorts


class GatewayMetrics:
    def __init__(self, core: CorePorts, connections: Callable[[], int]) -> None:
        self._core = core
        self._connections = connections
        self._metrics: TurnMetrics | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self._core.events.subscribe(AGENTS, self._on_event)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def render(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST
        from prometheus_client.exposition import generate_latest

        return generate_latest(self._created().registry), CONTENT_TYPE_LATEST

    def record_turn(self, data: dict[str, Any]) -> None:
        self._created().record(data)

    def _created(self) -> TurnMetrics:
        if self._metrics is None:
            from roost.gateway.prometheus import TurnMetrics

            self._metrics = TurnMetrics(self._core, self._connections)
        return self._metrics

    def _on_event(self, event: Event) -> None:
        if event.name == "turn.finished":
            self.record_turn(event.data)
