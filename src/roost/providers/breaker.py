"""Circuit breakers: a provider that keeps failing is skipped for a cool-down.

One breaker per configured provider name. ``failures_to_open`` outages in a row
(transient errors only: a caller's mistake says nothing of the provider's health)
open it; while open, calls skip the provider and go straight to the next model of
the chain. After ``cooldown_s`` (by the injected clock) it is half-open: one call
is let through as a probe; its success closes the breaker, its failure opens it
for another cool-down. Other calls meanwhile skip the provider as if open.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from roost.config.schema import CircuitBreakerConfig
from roost.timing.clock import Clock, SystemClock

__all__ = ["BreakerState", "Breakers", "CircuitBreaker"]


class BreakerState(IntEnum):
    """The value is the ``roost_provider_circuit_state`` gauge's."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def from_label(cls, label: str) -> BreakerState:
        return cls[label.upper().replace("-", "_")]


class CircuitBreaker:
    def __init__(self, config: CircuitBreakerConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._failures = 0
        self._opened_at: datetime | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._probing or self._clock.now() >= self._retry_at(self._opened_at):
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def _retry_at(self, opened_at: datetime) -> datetime:
        return opened_at + timedelta(seconds=self._config.cooldown_s)

    def allow(self) -> bool:
        """Whether a call may go to this provider now (taking the probe if half-open)."""
        if self._opened_at is None:
            return True
        if self._probing or self._clock.now() < self._retry_at(self._opened_at):
            return False
        self._probing = True
        return True

    def succeeded(self) -> None:
        self._failures, self._opened_at, self._probing = 0, None, False

    def failed(self) -> None:
        """An outage (a transient error after the SDK's retries)."""
        self._failures += 1
        if self._probing or self._failures >= self._config.failures_to_open:
            self._opened_at, self._probing = self._clock.now(), False

    def released(self) -> None:
        """The call ended without telling anything of the provider (a caller's error,
        a cancellation): a probe slot it held is given back."""
        self._probing = False

    def describe(self) -> dict[str, Any]:
        state = self.state
        info: dict[str, Any] = {"state": state.label, "consecutive_failures": self._failures}
        if state is BreakerState.OPEN and self._opened_at is not None:
            info["retry_at"] = self._retry_at(self._opened_at).isoformat()
        return info


class Breakers:
    """The breakers of every configured provider, and the count of failovers."""

    def __init__(
        self,
        providers: Iterable[str],
        config: CircuitBreakerConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        settings = config or CircuitBreakerConfig()
        real_clock = clock or SystemClock()
        self._breakers = {name: CircuitBreaker(settings, real_clock) for name in providers}
        self.failovers: dict[str, int] = {}
        """Failovers by the provider that failed."""

    def get(self, provider: str) -> CircuitBreaker | None:
        return self._breakers.get(provider)

    def count_failover(self, provider: str) -> None:
        self.failovers[provider] = self.failovers.get(provider, 0) + 1

    def states(self) -> dict[str, BreakerState]:
        return {name: breaker.state for name, breaker in self._breakers.items()}

    def health(self) -> dict[str, Any]:
        """The ``providers`` component of ``/healthz``."""
        providers = {
            name: b.describe() | {"failovers": self.failovers.get(name, 0)}
            for name, b in sorted(self._breakers.items())
        }
        degraded = any(p["state"] != "closed" for p in providers.values())
        return {"state": "degraded" if degraded else "ok", "providers": providers}
