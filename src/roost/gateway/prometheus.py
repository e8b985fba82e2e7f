"""The gateway's metrics as prometheus_client objects, in a registry of their own.

Imported by ``metrics.py`` at the first turn or scrape, not at start-up: the package
costs ~20 ms and ~2 MB that an idle gateway need not pay. A registry per gateway (not
the global default) keeps tests and several gateways in one process apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from roost.providers.breaker import BreakerState
from roost.store.turn_status import TurnStatus

if TYPE_CHECKING:
    from roost.ports import CorePorts

UNKNOWN_AGENT_LABEL = "_unknown"
DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")
NOT_ERRORS = frozenset({TurnStatus.OK, TurnStatus.INTERRUPTED})
_M = TypeVar("_M", Counter, Histogram)


class TurnMetrics:
    """Counters and the duration histogram that move with each finished turn."""

    def __init__(self, core: CorePorts, connections: Callable[[], int]) -> None:
        self._core = core
        self._children: dict[tuple[object, ...], Counter | Histogram] = {}
        self.registry = CollectorRegistry()
        registry = self.registry
        self.turns = Counter(
            "roost_turns", "Finished turns.", ("agent", "status"), registry=registry
        )
        self.tokens = Counter(
            "roost_tokens", "Tokens used by turns.", ("agent", "kind"), registry=registry
        )
        self.cost = Counter("roost_cost_usd", "USD spent by turns.", ("agent",), registry=registry)
        self.errors = Counter(
            "roost_turn_errors",
            "Turns that ended neither ok nor interrupted.",
            ("agent",),
            registry=registry,
        )
        self.duration = Histogram(
            "roost_turn_duration_seconds",
            "Turn duration.",
            ("agent",),
            registry=registry,
            buckets=DURATION_BUCKETS,
        )
        registry.register(_LiveGauges(core, connections))
        for agent in core.settings.agents:
            self._touch(agent)

    def _touch(self, agent: str) -> None:
        """Create an agent's series at zero, so dashboards see them before the first turn."""
        self._child(self.turns, agent, TurnStatus.OK)
        for kind in TOKEN_KINDS:
            self._child(self.tokens, agent, kind)
        self._child(self.cost, agent)
        self._child(self.errors, agent)
        self._child(self.duration, agent)

    def record(self, data: dict[str, Any]) -> None:
        agent = str(data.get("agent"))
        if agent not in self._core.agents:
            agent = UNKNOWN_AGENT_LABEL  # a client cannot create series at will
        status = str(data.get("status", "unknown"))
        self._child(self.turns, agent, status).inc()
        for kind in TOKEN_KINDS:
            count = int(data.get(f"{kind}_tokens") or 0)
            if count > 0:
                self._child(self.tokens, agent, kind).inc(count)
        cost = float(data.get("cost_usd") or 0.0)
        if cost > 0:
            self._child(self.cost, agent).inc(cost)
        if status not in NOT_ERRORS:
            self._child(self.errors, agent).inc()
        seconds = max(0.0, float(data.get("duration_ms") or 0) / 1000)
        self._child(self.duration, agent).observe(seconds)

    def _child(self, metric: _M, *labels: str) -> _M:
        # labels() validates and locks on every call; a turn touches up to 8 series.
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return cast(_M, found)


class _LiveGauges(Collector):
    """Gauges computed when Prometheus scrapes."""

    def __init__(self, core: CorePorts, connections: Callable[[], int]) -> None:
        self._core = core
        self._connections = connections

    def collect(self) -> Iterator[Metric]:
        core = self._core
        queued = GaugeMetricFamily(
            "roost_agent_queue_depth", "Messages waiting for their turn.", labels=["agent"]
        )
        busy = GaugeMetricFamily(
            "roost_agent_busy_sessions", "Sessions with a running turn.", labels=["agent"]
        )
        for name, agent in core.agents.items():
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
            value=core.inbox.in_flight,
        )
        yield GaugeMetricFamily(
            "roost_uptime_seconds",
            "Seconds since the process started.",
            value=time.time() - core.started_at,
        )
        yield from _provider_metrics(core.health())


def _provider_metrics(health: dict[str, Any]) -> Iterator[Metric]:
    """Each provider's circuit breaker (0 closed, 1 open, 2 half-open) and failovers."""
    state = GaugeMetricFamily(
        "roost_provider_circuit_state",
        "Circuit breaker per provider: 0 closed, 1 open, 2 half-open.",
        labels=["provider"],
    )
    failovers = CounterMetricFamily(
        "roost_provider_failovers",
        "Calls that failed over to the next model after this provider's outage.",
        labels=["provider"],
    )
    providers = health.get("components", {}).get("providers", {}).get("providers", {})
    for name, info in providers.items():
        state.add_metric([name], int(BreakerState.from_label(str(info["state"]))))
        failovers.add_metric([name], int(info.get("failovers", 0)))
    yield state
    yield failovers
