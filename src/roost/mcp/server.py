"""One MCP server's connection, supervised: started in the background, restarted
with capped exponential backoff when it crashes or hangs, never raising into Roost.

The connection lives in one task (``_supervise``): the SDK's transports are anyio
context managers, entered and left in the same task. Calls come from the turns'
tasks and go through the session it holds. A call that times out, or that finds
the connection gone, restarts the server: the model gets a clear tool error, and a
later call finds the server ready again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio

from roost.config.mcp_servers import McpServerConfig
from roost.mcp import sdk
from roost.mcp.naming import RemoteTool, check_tool

log = logging.getLogger(__name__)

STARTING, READY, FAILED, BACKING_OFF, STOPPED = (
    "starting",
    "ready",
    "failed",
    "backing off",
    "stopped",
)
MAX_TOOLS = 128
MAX_LIST_PAGES = 10


@dataclass(frozen=True)
class Backoff:
    """Seconds before the n-th restart: ``first * 2**n``, at most ``cap``; back to
    ``first`` once a connection stayed up ``stable_s``."""

    first_s: float = 0.5
    cap_s: float = 60.0
    stable_s: float = 60.0

    def delay(self, failures: int) -> float:
        return float(min(self.cap_s, self.first_s * 2 ** max(0, failures - 1)))


class ServerUnavailable(Exception):
    """The server cannot take the call now (the message says why, for the model)."""


class McpServer:
    def __init__(
        self,
        name: str,
        config: McpServerConfig,
        on_tools_changed: Callable[[], None],
        errlog: Path | None = None,
        backoff: Backoff = Backoff(),
        announce: bool = True,
    ) -> None:
        self.name = name
        self.config = config
        self.state = STOPPED
        self.last_error: str | None = None
        self.tools: list[RemoteTool] = []
        self._on_tools_changed = on_tools_changed
        self._errlog = errlog
        self._backoff = backoff
        self._announce = announce
        """Log failures (a probe, which reports them itself, does not)."""
        self._session: Any = None
        self._settled = asyncio.Event()
        """Set when a start attempt ended (ready or not); cleared while starting."""
        self._lost = asyncio.Event()
        self._relist = asyncio.Event()
        self._lost_reason: str | None = None
        self._up_since: float | None = None
        self._retry_at: float | None = None
        self._logged_error: str | None = None
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the background (returns at once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"mcp:{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_state(STOPPED)

    async def settled(self, timeout_s: float) -> str:
        """Wait (at most ``timeout_s``) until a start attempt ended; the state then."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._settled.wait()
        return self.state

    def status(self) -> dict[str, Any]:
        """State, tools and last error, for /healthz and `roost mcp list` (no secrets)."""
        status: dict[str, Any] = {
            "state": self.state,
            "transport": self.config.transport,
            "tools": [tool.name for tool in self.tools if tool.problem is None],
        }
        skipped = {tool.name: tool.problem for tool in self.tools if tool.problem}
        if skipped:
            status["skipped"] = skipped
        if self.last_error:
            status["last_error"] = self.last_error
        if self._retry_at is not None and self.state in (FAILED, BACKING_OFF):
            status["retry_in_s"] = round(max(0.0, self._retry_at - time.monotonic()), 1)
        return status

    async def _supervise(self) -> None:
        failures = 0
        while True:
            self._set_state(STARTING)
            up_since: float | None = None
            try:
                up_since = await self._serve_once()
                error = self._lost_reason or "the server closed the connection"
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # an anyio group raises ExceptionGroups
                up_since = self._up_since
                error = self._lost_reason or describe(exc, self.config)
            was_ready = up_since is not None
            if was_ready and time.monotonic() - (up_since or 0) >= self._backoff.stable_s:
                failures = 0
            failures += 1
            delay = self._backoff.delay(failures)
            self.last_error = error
            self._retry_at = time.monotonic() + delay
            self._set_state(BACKING_OFF if was_ready else FAILED)
            self._log_failure(error, was_ready, delay)
            await asyncio.sleep(delay)  # the backoff itself

    def _log_failure(self, error: str, was_ready: bool, delay: float) -> None:
        # The first failure of a kind is a warning; the same one again (a server down
        # for hours, retried each minute) is information.
        level = logging.INFO if error == self._logged_error else logging.WARNING
        self._logged_error = error
        log.log(
            level if self._announce else logging.DEBUG,
            "MCP server %s %s: %s; restarting in %.1fs",
            self.name,
            "lost" if was_ready else "failed to start",
            error,
            delay,
        )

    async def _serve_once(self) -> float | None:
        """Connect, list the tools, serve until the connection is lost or a restart is
        asked for; returns when the connection came up (None: it never did)."""
        modules = await sdk.load()
        self._lost.clear()
        self._relist.clear()
        self._lost_reason = None
        self._up_since = None
        async with AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(self._transport(modules, stack))
            read = _watch_closing(read, self._lost, stack)
            session_type = modules["mcp.client.session"].ClientSession
            session = await stack.enter_async_context(
                session_type(read, write, message_handler=self._on_message)
            )
            async with asyncio.timeout(self.config.start_timeout_s):
                await session.initialize()
                listed = await _list_tools(session)
            self.tools = listed
            self._session = session
            self._up_since = time.monotonic()
            self.last_error = self._logged_error = None
            self._set_state(READY)
            self._on_tools_changed()
            try:
                await self._serve_until_lost(session)
            finally:
                self._session = None
        return self._up_since

    async def _serve_until_lost(self, session: Any) -> None:
        """Wait for the connection's end; list the tools again when the server says
        they changed (``notifications/tools/list_changed``)."""
        while not self._lost.is_set():
            await _first_set(self._lost, self._relist)
            if self._relist.is_set() and not self._lost.is_set():
                self._relist.clear()
                async with asyncio.timeout(self.config.start_timeout_s):
                    self.tools = await _list_tools(session)
                self._on_tools_changed()

    async def _on_message(self, message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            self._relist.set()

    def _transport(self, modules: dict[str, Any], stack: AsyncExitStack) -> Any:
        config = self.config
        if config.url is not None:
            headers = {key: value.get_secret_value() for key, value in config.headers.items()}
            http = modules["mcp.shared._httpx_utils"].create_mcp_http_client(headers=headers)
            # The transport leaves a client it was given open: closed after it, here.
            stack.push_async_callback(http.aclose)
            return modules["mcp.client.streamable_http"].streamable_http_client(
                config.url, http_client=http
            )
        stdio = modules["mcp.client.stdio"]
        parameters = stdio.StdioServerParameters(
            command=config.command,
            args=config.args,
            env={key: value.get_secret_value() for key, value in config.env.items()},
            cwd=config.cwd,
        )
        errlog = stack.enter_context(_open_errlog(self._errlog))
        return stdio.stdio_client(parameters, errlog=errlog)

    def _set_state(self, state: str) -> None:
        self.state = state
        if state == STARTING:
            self._settled.clear()
        else:
            self._settled.set()
        if state == STOPPED:
            self.tools = []
        # Otherwise a server that is down keeps its tools: the model's list stays the
        # same, and a call gets a clear error until the server is back.

    def restart(self, reason: str) -> None:
        """Drop the connection (a hung or broken server); the supervisor starts it again."""
        if self.state == READY:
            # Down from now on: no call may take the session being torn down.
            self._lost_reason = self.last_error = reason
            self._session = None
            self._retry_at = None
            self._set_state(BACKING_OFF)
            self._lost.set()

    # -- calls -----------------------------------------------------------------

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """Call ``tool``; the SDK's ``CallToolResult``, or ``ServerUnavailable``."""
        session = await self._ready_session()
        timeout_s = self.config.timeout_s
        exceptions = (await sdk.load())["mcp.shared.exceptions"]
        try:
            async with asyncio.timeout(timeout_s):
                return await session.call_tool(tool, arguments)
        except TimeoutError:
            self.restart(f"a call to {tool} took longer than {timeout_s:g}s")
            raise ServerUnavailable(
                f"MCP server '{self.name}' did not answer within {timeout_s:g}s; "
                "it is being restarted"
            ) from None
        except exceptions.MCPError as exc:
            if exc.code != _CONNECTION_CLOSED:
                raise ServerUnavailable(
                    f"MCP server '{self.name}' refused the call: {_clean(exc.message, self.config)}"
                ) from None
            self.restart("the connection closed during a call")
            raise ServerUnavailable(
                f"MCP server '{self.name}' went away during the call; it is being restarted"
            ) from None
        except (OSError, EOFError, anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
            self.restart(describe(exc, self.config))
            raise ServerUnavailable(
                f"MCP server '{self.name}' failed during the call ({describe(exc, self.config)}); "
                "it is being restarted"
            ) from None
        except Exception as exc:
            # Not the connection: the SDK refused what the server answered (a result
            # that breaks the tool's output schema, say). The server stays up.
            log.warning(
                "MCP server %s: call to %s failed: %s", self.name, tool, describe(exc, self.config)
            )
            raise ServerUnavailable(
                f"MCP server '{self.name}': the call failed: {describe(exc, self.config)}"
            ) from None

    async def _ready_session(self) -> Any:
        if self.state == STARTING:
            await self.settled(self.config.timeout_s)
        session = self._session
        if self.state != READY or session is None:
            raise ServerUnavailable(self.unavailable_reason())
        return session

    def unavailable_reason(self) -> str:
        status = self.status()
        text = f"MCP server '{self.name}' is not available (state: {self.state}"
        if "last_error" in status:
            text += f"; last error: {status['last_error']}"
        if "retry_in_s" in status:
            text += f"; next try in {status['retry_in_s']}s"
        return text + ")"


_CONNECTION_CLOSED = -32000
"""JSON-RPC error the SDK gives pending calls when the transport closes (mcp_types)."""


async def _list_tools(session: Any) -> list[RemoteTool]:
    tools: list[RemoteTool] = []
    cursor: str | None = None
    for _ in range(MAX_LIST_PAGES):
        params = {"cursor": cursor} if cursor else None
        page = await (session.list_tools(params=params) if params else session.list_tools())
        tools.extend(check_tool(t.name, t.description, t.input_schema) for t in page.tools)
        cursor = getattr(page, "next_cursor", None)
        if not cursor or len(tools) >= MAX_TOOLS:
            break
    return tools[:MAX_TOOLS]


def _watch_closing(read: Any, lost: asyncio.Event, stack: AsyncExitStack) -> Any:
    """Relay the transport's read stream, setting ``lost`` when it ends (the process
    exited, the HTTP stream closed): the SDK fails pending calls then, and this is
    how the supervisor learns of it while no call is under way."""
    sink, relayed = anyio.create_memory_object_stream[Any](0)

    async def relay() -> None:
        try:
            async with sink:
                async for item in read:
                    await sink.send(item)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            lost.set()

    task = asyncio.create_task(relay())
    stack.push_async_callback(_cancel, task)
    return relayed


async def _first_set(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.contextmanager
def _open_errlog(path: Path | None) -> Any:
    """Where a stdio server's stderr goes: its own log file (not Roost's terminal)."""
    if path is None:
        with open("/dev/null", "w") as devnull:
            yield devnull
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        yield file


def describe(exc: BaseException, config: McpServerConfig) -> str:
    """One line about a failure, never a secret (header or env values are blanked)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, TimeoutError):
        return f"not started within {config.start_timeout_s:g}s"
    if isinstance(exc, FileNotFoundError) and config.command:
        return f"command not found: {config.command}"
    text = str(exc) or type(exc).__name__
    return _clean(f"{type(exc).__name__}: {text}" if str(exc) else text, config)


def _clean(text: str, config: McpServerConfig) -> str:
    secrets = [
        secret.get_secret_value() for secret in (*config.headers.values(), *config.env.values())
    ]
    # A refusal may quote the credential without its scheme (``Bearer``, ``Basic``).
    secrets += [value.split()[-1] for value in secrets if len(value.split()) > 1]
    if config.url:
        # A URL may carry a key too (``?key=…``, ``user:password@``): errors quoting it
        # (an HTTP client's "for url '…'") show neither.
        parts = urlsplit(config.url)
        secrets += [parts.query, parts.password or ""]
    for value in sorted(secrets, key=len, reverse=True):
        if value:
            text = text.replace(value, "***")
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:299] + "…"
