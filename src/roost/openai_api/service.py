"""The OpenAI-compatible API as a feature: its routes, served by the gateway.

Present whenever the gateway is (``gateway.enabled``). Its routes are not public, so
the gateway's token check, failure limits and Host/Origin rules apply to them as to
``/api``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from roost.features.contract import Feature, HttpRoute
from roost.openai_api.api import OpenAIApi

if TYPE_CHECKING:
    from roost.ports import CorePorts


class OpenAIFeature(Feature):
    """``/v1/models`` and ``/v1/chat/completions`` (docs/protocol.md)."""

    name = "openai_api"

    def __init__(self, core: CorePorts) -> None:
        self._stopping = asyncio.Event()
        self._api = OpenAIApi(core, self._stopping)
        self._state = "stopped"

    def http_routes(self) -> Sequence[HttpRoute]:
        api = self._api
        return [
            HttpRoute(Route("/v1/models", api.models, methods=["GET"])),
            HttpRoute(Route("/v1/models/{name:path}", api.model, methods=["GET"])),
            HttpRoute(Route("/v1/chat/completions", api.chat_completions, methods=["POST"])),
        ]

    def health(self) -> dict[str, Any]:
        return {"state": self._state}

    async def start(self) -> None:
        self._stopping.clear()
        self._state = "ok"

    async def stop(self) -> None:
        # Requests still waiting for a turn are answered 503 (the turn goes on, stored).
        self._stopping.set()
        self._state = "stopped"
