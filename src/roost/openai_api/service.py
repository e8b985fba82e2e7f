"""The OpenAI-compatible API as a feature: its routes, served by the gateway.

Present whenever the gateway is (``gateway.enabled``). Its routes are not public, so
the gateway's token check, failure limits and Host/Origin rules apply to them as to
``/api``. Its code (``roost.openai_api.api`` and what that imports) is loaded on the
first request to it: most processes never get one, and it would cost every `roost run`
a few hundred KB.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from roost.features.contract import Feature, HttpRoute

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from roost.openai_api.api import OpenAIApi
    from roost.ports import CorePorts


class OpenAIFeature(Feature):
    """``/v1/models`` and ``/v1/chat/completions`` (docs/protocol.md)."""

    name = "openai_api"

    def __init__(self, core: CorePorts) -> None:
        self._core = core
        self._stopping = asyncio.Event()
        self._loaded: OpenAIApi | None = None
        self._state = "stopped"

    def http_routes(self) -> Sequence[HttpRoute]:
        return [
            HttpRoute(Route("/v1/models", self._models, methods=["GET"])),
            HttpRoute(Route("/v1/models/{name:path}", self._model, methods=["GET"])),
            HttpRoute(Route("/v1/chat/completions", self._chat_completions, methods=["POST"])),
        ]

    def _api(self) -> OpenAIApi:
        """The API, built (and its modules imported) on the first request."""
        if self._loaded is None:
            from roost.openai_api.api import OpenAIApi

            self._loaded = OpenAIApi(self._core, self._stopping)
        return self._loaded

    async def _models(self, request: Request) -> Response:
        return await self._api().models(request)

    async def _model(self, request: Request) -> Response:
        return await self._api().model(request)

    async def _chat_completions(self, request: Request) -> Response:
        return await self._api().chat_completions(request)

    def health(self) -> dict[str, Any]:
        return {"state": self._state}

    async def start(self) -> None:
        self._stopping.clear()
        self._state = "ok"

    async def stop(self) -> None:
        # Requests still waiting for a turn are answered 503 (the turn goes on, stored).
        self._stopping.set()
        self._state = "stopped"
