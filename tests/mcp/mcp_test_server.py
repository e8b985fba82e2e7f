"""An MCP server for the tests, written with the ``mcp`` SDK (``MCPServer``).

``python mcp_test_server.py stdio`` serves over stdin/stdout;
``python mcp_test_server.py http`` serves streamable HTTP on 127.0.0.1, port 0,
and prints the URL on its first line. With ``MCP_TEST_TOKEN`` set, the HTTP server
answers only requests with ``Authorization: Bearer <token>``; with
``MCP_TEST_ECHO_REFUSED=1`` its refusal quotes the token it got (as some APIs do).
``MCP_TEST_MARKER`` names a file ``block`` writes before it blocks (so a test knows
the call reached the server); ``MCP_TEST_FAIL_START=1`` exits before serving.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("roost-test")


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return f"echo: {text}"


@server.tool()
def read_note(name: str) -> str:
    """Read a note."""
    return f"note {name}"


@server.tool()
def write_note(name: str, text: str) -> str:
    """Write a note."""
    return f"wrote {name}"


@server.tool()
def pid() -> str:
    """The server's process id."""
    return f"pid={os.getpid()}"


@server.tool()
def getenv(name: str) -> str:
    """Whether an environment variable is set (never its value)."""
    return f"{name} is {'set' if name in os.environ else 'unset'}"


@server.tool()
async def block() -> str:
    """Never answers (the marker file says the call arrived)."""
    _mark_arrival()
    await asyncio.Event().wait()
    return "unreachable"


@server.tool()
async def grow(ctx: Context) -> str:
    """Add the tool ``extra`` and tell the client the tools changed."""
    server.add_tool(_extra, name="extra", description="Added while running.")
    await ctx.session.send_tool_list_changed()
    return "grown"


def _extra() -> str:
    return "extra here"


def _mark_arrival() -> None:
    marker = os.environ.get("MCP_TEST_MARKER")
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")


def _http() -> None:
    import uvicorn
    from starlette.responses import PlainTextResponse
    from starlette.types import ASGIApp, Receive, Scope, Send

    app = server.streamable_http_app()
    token = os.environ.get("MCP_TEST_TOKEN")

    def guarded(inner: ASGIApp) -> ASGIApp:
        async def guard(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and token:
                headers = dict(scope["headers"])
                got = headers.get(b"authorization", b"").decode("latin-1")
                if got != f"Bearer {token}":
                    echo = os.environ.get("MCP_TEST_ECHO_REFUSED") == "1"
                    said = f"invalid token: {got.removeprefix('Bearer ')}" if echo else ""
                    await PlainTextResponse(said or "unauthorized", 401)(scope, receive, send)
                    return
            await inner(scope, receive, send)

        return guard

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections made before uvicorn serves wait in the backlog
    port = sock.getsockname()[1]
    print(f"http://127.0.0.1:{port}/mcp", flush=True)
    config = uvicorn.Config(guarded(app), log_level="warning", lifespan="on")
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    if os.environ.get("MCP_TEST_FAIL_START") == "1":
        print("cannot start: no such database", file=sys.stderr)
        sys.exit(3)
    if sys.argv[1:] == ["http"]:
        _http()
    else:
        server.run("stdio")
