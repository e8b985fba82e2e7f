"""The ``Feature`` contract: what a part of Roost contributes, declared, not wired in.

A feature is built from the core's ports (``FeatureFactory``: ``CorePorts`` →
``Feature``) and says what it adds; ``App`` reads it once, at construction, and
wires it in: its delivery channels go to the dispatcher, its finishers to the
router, its tools into the agents' catalogue, its gateway methods and HTTP routes
to the gateway (if one is present), its health under ``components`` in /healthz.
Its ``lifespan`` runs while `roost run` serves; features start in the order they
are listed and stop in the reverse order.

Every method has a default that contributes nothing, so a feature overrides only
what it has. A typed base class (rather than a plugin manager such as pluggy) is
enough: features are listed in one place (``roost.builtin_features``), each
contribution has one owner, and mypy checks every override.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from starlette.routing import BaseRoute

    from roost.bus.dispatcher import Channel
    from roost.bus.envelope_end import Finisher
    from roost.features.jobs import JobOperations
    from roost.features.methods import Method
    from roost.ports import CorePorts
    from roost.tools.approval import ApprovalGate
    from roost.tools.registry import Tool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpRoute:
    """A route the gateway serves for a feature.

    ``public`` routes skip the gateway token and the Host/Origin checks: they check
    their own secret (Telegram's webhook is called by Telegram, through whatever
    proxy or name it knows us by). Others need the gateway token like ``/api``.
    """

    route: BaseRoute
    public: bool = False


class Feature:
    """A part of Roost built on the core's ports. Override what the feature has."""

    name: str = "feature"
    """Its name in /healthz ``components`` (and in logs)."""

    def channels(self) -> Sequence[Channel]:
        """Delivery channels, one per address scheme (``telegram``, ``ws``…)."""
        return ()

    def tools(self) -> Sequence[Tool]:
        """Tools agents may list in their ``tools:`` (by name)."""
        return ()

    def finishers(self) -> Mapping[str, Finisher[Any]]:
        """What a finished turn sends, per sender scheme of its envelope (``job``…)."""
        return {}

    def gateway_methods(self) -> Sequence[Method]:
        """WebSocket methods (``jobs.*``…); called only when a gateway is present."""
        return ()

    def http_routes(self) -> Sequence[HttpRoute]:
        """HTTP routes the gateway serves for this feature; read when the gateway starts."""
        return ()

    def health(self) -> dict[str, Any] | None:
        """Its component in /healthz (at least ``{"state": "..."}``), or None for none."""
        return None

    def jobs_api(self) -> JobOperations | None:
        """The job operations, if this feature runs scheduled jobs."""
        return None

    def approval_gate(self) -> ApprovalGate | None:
        """The gate tools ask the owner through, if this feature decides approvals."""
        return None

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        """Runs while `roost run` serves: ``start`` on entry, ``stop`` on exit.

        Override ``start``/``stop``, or this for a context manager of your own.
        ``stop`` also runs when ``start`` failed, to release what it had set up.
        """
        return self._start_stop()

    async def start(self) -> None:
        """Start serving (the gateway listens, Telegram polls, the scheduler runs)."""

    async def stop(self) -> None:
        """Stop serving; what is unfinished stays in the store for the next start."""

    @asynccontextmanager
    async def _start_stop(self) -> AsyncIterator[None]:
        try:
            await self.start()
        except BaseException:
            # What start set up is released; the error that is raised is start's.
            try:
                await self.stop()
            except Exception:
                log.exception("stopping %s after its failed start failed", self.name)
            raise
        try:
            yield
        finally:
            await self.stop()


FeatureFactory = Callable[["CorePorts"], Feature]
"""Builds a feature from the core's ports (a feature class is one)."""
