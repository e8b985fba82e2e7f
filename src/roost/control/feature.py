"""The control page as a feature: public routes for `/` and its files, nothing else.

What the page shows comes from the gateway's WebSocket API (with the token); this
feature only serves the files. Each file gets its own exact route so the gateway's
list of public paths stays a list of exact paths (no prefix that could grow).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.control.assets import SECURITY_HEADERS, Asset, Assets, load_assets
from roost.features.contract import Feature, HttpRoute

if TYPE_CHECKING:
    from roost.ports import CorePorts

log = logging.getLogger(__name__)
_WILDCARD_AS_LOOPBACK = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}


class ControlFeature(Feature):
    """Serves the web control page (docs/control.md) on the gateway's port."""

    name = "control"

    def __init__(self, core: CorePorts, assets: Assets | None = None) -> None:
        self.core = core
        # Read once, at construction (a few dozen KB): no file I/O per request.
        self.assets = assets or load_assets()

    def http_routes(self) -> Sequence[HttpRoute]:
        routes = [HttpRoute(_route("/", self.assets.page), public=True)]
        routes.extend(
            HttpRoute(_route(path, asset), public=True) for path, asset in self.assets.files.items()
        )
        return routes

    async def start(self) -> None:
        # Said once at start, so an owner reading the log finds the page without the docs.
        log.info("control page: %s (`roost open` prints a link that signs in)", self.page_url())

    def page_url(self) -> str:
        """The page's address as the gateway states it in the health report (it starts
        before this feature); a wildcard bind is named by its loopback address, as
        `roost open` does. Without a gateway URL, where to look."""
        gateway = self.core.health()["components"].get("gateway") or {}
        url = gateway.get("url")
        if not isinstance(url, str):
            return "/ on the gateway's port"
        scheme, _, address = url.partition("://")
        host, _, port = address.rpartition(":")
        return f"{scheme}://{_WILDCARD_AS_LOOPBACK.get(host, host)}:{port}/"


def _route(path: str, asset: Asset) -> Route:
    async def serve(request: Request) -> Response:
        return respond(asset, request.headers.get("if-none-match"))

    return Route(path, serve, methods=["GET", "HEAD"], name=f"control:{path}")


def respond(asset: Asset, if_none_match: str | None) -> Response:
    headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": asset.cache_control}
    if if_none_match is not None and asset.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
