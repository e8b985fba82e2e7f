"""Prometheus metrics for /metrics, in a registry of their own (one per App).

Counters move with the ``turn.finished`` events on the ``agents`` topic; gauges
(queues, busy sessions, connections, in-flight messages, uptime) are read at
scrape time. Agent labels are limited to configured agents (others count as
``_unknown``) so a client cannot create series at will.

The counters are plain numbers here; ``prometheus_client`` (~20 ms and ~2 MB at
start-up) is imported at the first scrape, which renders them through a collector
in the same text format its own Counter and Histogram would.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roost.bus.events import AGENTS, Event

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

    from roost.app import App

UNKNOWN_AGENT_LABEL = "_unknown"
DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")
NOT_ERRORS = frozenset({"ok", "interrupted"})
Labels = tuple[str, ...]


@dataclass
class _Series:
    """One labelled counter value, with the time it was first seen (``_created``)."""

    value: float = 0.0
    created: float = field(default_factory=time.time)


@dataclass
class _HistogramSeries:
    counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    """Observations per bucket (not cumulative); the last one is +Inf."""
    total: float = 0.0
    created: float = field(default_factory=time.time)


@dataclass(frozen=True)
class _CounterFamily:
    name: str
    documentation: str
    labels: Labels
    series: dict[Labels, _Series] = field(default_factory=dict)

    def child(self, *labels: str) -> _Series:
        found = self.series.get(labels)
        if found is None:
            found = self.series[labels] = _Series()
        return found


class GatewayMetrics:
    def __init__(self, app: App, connections: Callable[[], int]) -> None:
        self._app = app
        self._connections = connections
        self.turns = _CounterFamily("roost_turns_total", "Finished turns.", ("agent", "status"))
        self.tokens = _CounterFamily(
            "roost_tokens_total", "Tokens used by turns.", ("agent", "kind")
        )
        self.cost = _CounterFamily("roost_cost_usd_total", "USD spent by turns.", ("agent",))
        self.errors = _CounterFamily(
            "roost_turn_errors_total", "Turns that ended neither ok nor interrupted.", ("agent",)
        )
        self.duration: dict[str, _HistogramSeries] = {}
        self._registry: CollectorRegistry | None = None
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
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
        from prometheus_client.exposition import generate_latest

        if self._registry is None:
            self._registry = CollectorRegistry()
            self._registry.register(_Collector(self))
        return generate_latest(self._registry), CONTENT_TYPE_LATEST

    def _touch(self, agent: str) -> None:
        """Create an agent's series at zero, so dashboards see them before the first turn."""
        self.turns.child(agent, "ok")
        for kind in TOKEN_KINDS:
            self.tokens.child(agent, kind)
        self.cost.child(agent)
        self.errors.child(agent)
        self._histogram(agent)

    def _histogram(self, agent: str) -> _HistogramSeries:
        found = self.duration.get(agent)
        if found is None:
            found = self.duration[agent] = _HistogramSeries()
        return found

    def _on_event(self, event: Event) -> None:
        if event.name == "turn.finished":
            self.record_turn(event.data)

    def record_turn(self, data: dict[str, Any]) -> None:
        agent = str(data.get("agent"))
        if agent not in self._app.agents:
            agent = UNKNOWN_AGENT_LABEL
        status = str(data.get("status", "unknown"))
        self.turns.child(agent, status).value += 1
        for kind in TOKEN_KINDS:
            count = int(data.get(f"{kind}_tokens") or 0)
            if count > 0:
                self.tokens.child(agent, kind).value += count
        cost = float(data.get("cost_usd") or 0.0)
        if cost > 0:
            self.cost.child(agent).value += cost
        if status not in NOT_ERRORS:
            self.errors.child(agent).value += 1
        seconds = max(0.0, float(data.get("duration_ms") or 0) / 1000)
        histogram = self._histogram(agent)
        # Upper bounds are inclusive (le), as in prometheus_client's Histogram.
        histogram.counts[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        histogram.total += seconds


class _Collector:
    """The counters, the duration histogram and the gauges computed at scrape time."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )
        from prometheus_client.samples import Sample

        metrics = self._metrics
        for family in (metrics.turns, metrics.tokens, metrics.cost, metrics.errors):
            counter = CounterMetricFamily(
                family.name, family.documentation, labels=list(family.labels)
            )
            for labels, series in family.series.items():
                counter.add_metric(list(labels), series.value, created=series.created)
            yield counter
        histogram = HistogramMetricFamily(
            "roost_turn_duration_seconds", "Turn duration.", labels=["agent"]
        )
        bounds = [*(repr(float(bound)) for bound in DURATION_BUCKETS), "+Inf"]  # as Go prints them
        for agent, observed in metrics.duration.items():
            cumulative, buckets = 0, []
            for bound, count in zip(bounds, observed.counts, strict=True):
                cumulative += count
                buckets.append((bound, float(cumulative)))
            histogram.add_metric([agent], buckets, observed.total)
            histogram.samples.append(
                Sample(f"{histogram.name}_created", {"agent": agent}, observed.created, None, None)
            )
        yield histogram
        yield from _live_gauges(metrics._app, metrics._connections, GaugeMetricFamily)


def _live_gauges(
    app: App, connections: Callable[[], int], gauge: Callable[..., Any]
) -> Iterator[Metric]:
    """Gauges computed when Prometheus scrapes."""
    queued = gauge("roost_agent_queue_depth", "Messages waiting for their turn.", labels=["agent"])
    busy = gauge("roost_agent_busy_sessions", "Sessions with a running turn.", labels=["agent"])
    for name, agent in app.agents.items():
        queued.add_metric([name], agent.queue_depth)
        busy.add_metric([name], len(agent.busy_sessions))
    yield queued
    yield busy
    yield gauge("roost_gateway_connections", "Open WebSocket connections.", value=connections())
    yield gauge(
        "roost_router_in_flight",
        "Messages accepted and being processed.",
        value=app.router.in_flight,
    )
    yield gauge(
        "roost_uptime_seconds",
        "Seconds since the process started.",
        value=time.time() - app.started_at,
    )
