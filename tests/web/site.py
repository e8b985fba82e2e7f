"""A small web site for http_fetch's tests: pages, redirects, big, slow and binary bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

PAGE = """<html><head><title>Roost &amp; friends</title><script>steal()</script>
<style>p {color: red}</style></head><body><nav>menu</nav><main><h1>Hello</h1>
<p>Read the <a href="/docs">docs</a> or <b>not</b>.</p></main></body></html>"""


class Site:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.never = asyncio.Event()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/page", self._page),
                Route("/host", self._host),
                Route("/json", self._json),
                Route("/image", self._image),
                Route("/big", self._big),
                Route("/slow", self._slow),
                Route("/redirect", self._redirect),
                Route("/loop/{n:int}", self._loop),
                Route("/secret", self._secret),
                Route("/missing", self._missing),
            ]
        )

    async def _page(self, request: Request) -> Response:
        self.hits.append("/page")
        return Response(PAGE, media_type="text/html")

    async def _host(self, request: Request) -> Response:
        return PlainTextResponse(f"host={request.headers['host']}")

    async def _json(self, request: Request) -> Response:
        return JSONResponse({"answer": 42})

    async def _image(self, request: Request) -> Response:
        return Response(b"\x89PNG\r\n\x1a\n\x00\x00", media_type="image/png")

    async def _big(self, request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(500):  # 5 MB if read to the end
                yield b"x" * 10_000

        return StreamingResponse(chunks(), media_type="text/plain")

    async def _slow(self, request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"start "
            await self.never.wait()  # never set: the body never ends
            yield b"end"

        return StreamingResponse(chunks(), media_type="text/plain")

    async def _redirect(self, request: Request) -> Response:
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def _loop(self, request: Request) -> Response:
        return RedirectResponse(f"/loop/{request.path_params['n'] + 1}", status_code=301)

    async def _secret(self, request: Request) -> Response:
        self.hits.append("/secret")
        return PlainTextResponse("internal secret")

    async def _missing(self, request: Request) -> Response:
        return PlainTextResponse("gone", status_code=404)
