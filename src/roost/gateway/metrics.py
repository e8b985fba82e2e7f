"""Prometheus metrics for /metrics, in a registry of their own (one per App).

Counters move with the ``turn.finished`` events on the ``agents`` topic; gauges
(queues, busy sessions, connections, in-flight messages, uptime) are read at
scrape time. Agent labels are limited to configured agents (others count as
``_unknown``) so a client cannot create series at will.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from roost.bus.events import AGENTS, Event

if TYPE_CHECKING:
    from roost.app import App

UNKNOWN_AGENT_LABEL = "_unknown"
DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")
NOT_ERRORS = frozenset({"ok", "interrupted"})


class GatewayMetrics:
    def __init__(self, app: App, connections: Callable[[], int]) -> None:
        self._app = app
        self.registry = CollectorRegistry()
        self.turns = Counter(
            "roost_turns_total", "Finished turns.", ["agent", "status"], registry=self.registry
        )
        self.tokens = Counter(
            "roost_tokens_total", "Tokens used by turns.", ["agent", "kind"], registry=self.registry
        )
        self.cost = Counter(
            "roost_cost_usd_total", "USD spent by turns.", ["agent"], registry=self.registry
        )
        self.errors = Counter(
            "roost_turn_errors_total",
            "Turns that ended neither ok nor interrupted.",
            ["agent"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "roost_turn_duration_seconds",
            "Turn duration.",
            ["agent"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_LiveCollector(app, connections))
        self._unsubscribe: Callable[[], None] | None = None
        for agent in app.settings.agents:
            self._touch(agent)

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self._app.events.subscribe(AGENTS, self._on_event)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def _touch(self, agent: str) -> None:
        """Create an agent's series at zero, so dashboards see them before the first turn."""
        self.turns.labels(agent, "ok")
        for kind in TOKEN_KINDS:
            self.tokens.labels(agent, kind)
        self.cost.labels(agent)
        self.errors.labels(agent)
        self.duration.labels(agent)

    def _on_event(self, event: Event) -> None:
        if event.name == "turn.finished":
            self.record_turn(event.data)

    def record_turn(self, data: dict[str, Any]) -> None:
        agent = str(data.get("agent"))
        if agent not in self._app.agents:
            agent = UNKNOWN_AGENT_LABEL
        status = str(data.get("status", "unknown"))
        self.turns.labels(agent, status).inc()
        for kind in TOKEN_KINDS:
            count = int(data.get(f"{kind}_tokens") or 0)
            if count > 0:
                self.tokens.labels(agent, kind).inc(count)
        cost = float(data.get("cost_usd") or 0.0)
        if cost > 0:
            self.cost.labels(agent).inc(cost)
        if status not in NOT_ERRORS:
            self.errors.labels(agent).inc()
        self.duration.labels(agent).observe(max(0.0, float(data.get("duration_ms") or 0) / 1000))


class _LiveCollector(Collector):
    """Gauges computed when Prometheus scrapes."""

    def __init__(self, app: App, connections: Callable[[], int]) -> None:
        self._app = app
        self._connections = connections

    def collect(self) -> Iterator[Metric]:
        queued = GaugeMetricFamily(
            "roost_agent_queue_depth", "Messages waiting for their turn.", labels=["agent"]
        )
        busy = GaugeMetricFamily(
            "roost_agent_busy_sessions", "Sessions with a running turn.", labels=["agent"]
        )
        for name, agent in self._app.agents.items():
            queued.add_metric([name], agent.queue_depth)
            busy.add_metric([name], len(agent.busy_sessions))
        yield queued
        yield busy
        yield GaugeMetricFamily(
            "roost_gateway_connections", "Open WebSocket connections.", value=self._connections()
        )
        yield GaugeMetricFamily(
            "roost_router_in_flight",
            "Messages accepted and being processed.",
            value=self._app.router.in_flight,
        )
        yield GaugeMetricFamily(
            "roost_uptime_seconds",
            "Seconds since the process started.",
            value=time.time() - self._app.started_at,
        )
