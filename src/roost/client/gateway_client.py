"""A WebSocket client for the gateway inside `roost run` (the protocol: docs and
/tmp/protocol_spec.md): requests with ids, their responses, and a queue of events.

    location = locate(settings)            # None: no gateway is running
    client = await GatewayClient.connect(location.url, location.token, "my-client")
    sent = await client.call("chat.send", {"agent": "assistant", "text": "hi"})
    async for event in client.events():    # chat.delta, chat.tool, chat.reply, ...
        ...

Light on imports (websockets and the standard library): `roost ask` through a gateway
must not pay for pydantic, SQLAlchemy or a model SDK. The errors, the events and the
finding of the gateway live in their own modules (which do not even need websockets);
they are re-exported here, where callers have always imported them from.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from roost.client.errors import (
    CLOSE_FORBIDDEN,
    CLOSE_RATE_LIMITED,
    CLOSE_SLOW_CONSUMER,
    CLOSE_UNAUTHORIZED,
    GatewayAuthError,
    GatewayCallError,
    GatewayClosed,
    GatewayError,
    GatewayUnavailable,
    auth_message,
    closed_error,
)
from roost.client.events import GatewayEvent, SeenDeliveries
from roost.client.location import GatewayFinder, GatewayLocation, finder, locate, locate_in
from roost.gateway.discovery import TOKEN_FILE

__all__ = [
    "CLOSE_FORBIDDEN",
    "CLOSE_RATE_LIMITED",
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_UNAUTHORIZED",
    "MAX_INCOMING_BYTES",
    "GatewayAuthError",
    "GatewayCallError",
    "GatewayClient",
    "GatewayClosed",
    "GatewayError",
    "GatewayEvent",
    "GatewayFinder",
    "GatewayLocation",
    "GatewayUnavailable",
    "client_id",
    "finder",
    "locate",
    "locate_in",
    "with_query",
]

MAX_INCOMING_BYTES = 64 * 1024 * 1024
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def client_id(prefix: str) -> str:
    """``<prefix>-<host>-<pid>``: stable for this process, so it survives reconnects."""
    host = re.sub(r"[^A-Za-z0-9_.-]+", "-", socket.gethostname()).strip("-.") or "host"
    suffix = f"-{os.getpid()}"
    return f"{prefix}-{host}"[: 64 - len(suffix)] + suffix


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key not in params]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


_CLOSED = GatewayEvent("__closed__")


class GatewayClient:
    """One WebSocket connection to the gateway. Create it with `connect`."""

    def __init__(
        self,
        websocket: ClientConnection,
        hello: dict[str, Any],
        *,
        url: str,
        token: str | None,
        token_source: str,
        seen: SeenDeliveries | None = None,
    ) -> None:
        self._ws = websocket
        self.hello = hello
        self.url = url
        self._token = token
        self._token_source = token_source
        self.client_id = str(hello.get("client", ""))
        agents = hello.get("agents")
        self.agents: list[str] = [str(a) for a in agents] if isinstance(agents, list) else []
        self.version = str(hello.get("version", ""))
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[GatewayEvent] = asyncio.Queue()
        self._seen = seen or SeenDeliveries()
        self._closed: GatewayClosed | None = None
        self._reader = asyncio.create_task(self._read(), name="gateway-client-reader")

    # -- connecting --------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        url: str,
        token: str | None,
        client_id: str | None = None,
        *,
        open_timeout: float = 5.0,
        token_source: str = TOKEN_FILE,
        seen: SeenDeliveries | None = None,
    ) -> GatewayClient:
        """Connect and wait for the gateway's hello.

        Raises `GatewayUnavailable` when nothing listens at ``url`` and
        `GatewayAuthError` when the token is refused. ``seen``: the delivery ids an
        earlier connection of this client handed out (a repeat of one is dropped).
        """
        if client_id is not None and not _CLIENT_ID.fullmatch(client_id):
            raise ValueError(f"client id {client_id!r}: use 1-64 of A-Z a-z 0-9 _ . : -")
        target = with_query(url, client=client_id) if client_id else url
        websocket = await _open(target, url, token, open_timeout, token_source)
        hello = await _receive_hello(websocket, url, open_timeout, token_source)
        return cls(websocket, hello, url=url, token=token, token_source=token_source, seen=seen)

    async def reconnect(
        self,
        *,
        within_s: float = 30.0,
        delay_s: float = 0.5,
        relocate: Callable[[], GatewayLocation | None] | None = None,
    ) -> GatewayClient:
        """A new connection with the same client id: replies that waited for it come then.

        ``relocate`` finds the gateway again before each attempt (a restarted `roost run`
        may listen on another port); without it, or when it finds none, the same URL
        is tried. Retries for ``within_s`` seconds; raises the last `GatewayError` then.
        """
        await self.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            found = relocate() if relocate is not None else None
            url, token = (found.url, found.token) if found else (self.url, self._token)
            try:
                return await GatewayClient.connect(
                    url,
                    token,
                    self.client_id or None,
                    token_source=self._token_source,
                    seen=self._seen,  # a reply resent after a restart is still a repeat
                )
            except GatewayAuthError:
                raise
            except GatewayError:
                if loop.time() + delay_s > deadline:
                    raise
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 5.0)

    # -- requests and events -----------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, wait_s: float | None = 30.0
    ) -> dict[str, Any]:
        """Send a request and return its result; `GatewayCallError` if it failed."""
        if self._closed is not None:
            raise self._closed
        request_id = str(next(self._ids))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        frame = {"type": "req", "id": request_id, "method": method, "params": params or {}}
        try:
            try:
                await self._ws.send(json.dumps(frame, ensure_ascii=False))
            except ConnectionClosed as exc:
                raise self._closed or closed_error(self.url, _received_code(exc)) from None
            response = await asyncio.wait_for(future, wait_s)
        finally:
            self._pending.pop(request_id, None)
        if response.get("ok"):
            result = response.get("result")
            return result if isinstance(result, dict) else {}
        error = response.get("error")
        error = error if isinstance(error, dict) else {}
        raise GatewayCallError(str(error.get("code", "internal")), str(error.get("message", "")))

    async def next_event(self, wait_s: float | None = None) -> GatewayEvent | None:
        """The next event, or None once the connection has ended (and all were read).

        Raises `TimeoutError` if none arrives within ``wait_s`` seconds.
        """
        if self._closed is not None and self._events.empty():
            return None
        event = await asyncio.wait_for(self._events.get(), wait_s)
        if event is _CLOSED:
            self._events.put_nowait(_CLOSED)  # every later reader learns it too
            return None
        return event

    async def events(self) -> AsyncIterator[GatewayEvent]:
        """Every event as it arrives, until the connection ends."""
        while (event := await self.next_event()) is not None:
            yield event

    @property
    def close_error(self) -> GatewayClosed | None:
        """Why the connection ended, once it has."""
        return self._closed

    async def wait_closed(self) -> None:
        await asyncio.shield(self._reader)

    async def close(self) -> None:
        if self._closed is None:
            self._closed = GatewayClosed("the connection to the gateway was closed")
        await self._ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                self._dispatch(raw)
        except ConnectionClosed as exc:
            self._closed = self._closed or closed_error(self.url, _received_code(exc))
        finally:
            if self._closed is None:
                self._closed = closed_error(self.url, self._ws.close_code)
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(self._closed)
            self._events.put_nowait(_CLOSED)

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        if kind == "res":
            future = self._pending.get(str(frame.get("id")))
            if future is not None and not future.done():
                future.set_result(frame)
        elif kind == "event":
            data = frame.get("data")
            event = GatewayEvent(str(frame.get("event")), data if isinstance(data, dict) else {})
            if self._seen.first_time(event):
                self._events.put_nowait(event)


async def _open(
    target: str, url: str, token: str | None, open_timeout: float, token_source: str
) -> ClientConnection:
    """The WebSocket to ``target`` (``url`` with our client id), or the reason there is none."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        return await ws_connect(
            target,
            additional_headers=headers,
            open_timeout=open_timeout,
            close_timeout=2,
            max_size=MAX_INCOMING_BYTES,
            proxy=None,  # the gateway is on loopback; never route it through a proxy
            user_agent_header=None,
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403, 429):
            raise GatewayAuthError(auth_message(url, status, token_source)) from None
        raise GatewayUnavailable(
            f"the gateway at {url} refused the connection (HTTP {status})"
        ) from None
    except InvalidURI as exc:
        raise GatewayUnavailable(f"{url} is not a WebSocket address: {exc}") from None
    except (OSError, TimeoutError, InvalidHandshake):
        raise GatewayUnavailable(
            f"no gateway is running at {url}: start one with `roost run`"
        ) from None


async def _receive_hello(
    websocket: ClientConnection, url: str, open_timeout: float, token_source: str
) -> dict[str, Any]:
    """The hello's data. The gateway refuses a token by accepting the WebSocket and then
    closing it (4401; 4429 when rate limited; 4403 for an unknown Host or Origin), so a
    refusal usually surfaces here."""
    try:
        return await asyncio.wait_for(_first_hello(websocket), open_timeout)
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
        if code in (CLOSE_UNAUTHORIZED, CLOSE_RATE_LIMITED, CLOSE_FORBIDDEN):
            raise GatewayAuthError(auth_message(url, code, token_source)) from None
        reason = f" (close {code})" if code else ""
        raise GatewayUnavailable(f"the gateway at {url} closed the connection{reason}") from None
    except (TimeoutError, ValueError) as exc:
        await websocket.close()
        raise GatewayUnavailable(f"the gateway at {url} did not say hello: {exc}") from None


async def _first_hello(websocket: ClientConnection) -> dict[str, Any]:
    frame = json.loads(await websocket.recv())
    if not (isinstance(frame, dict) and frame.get("event") == "hello"):
        raise ValueError(f"expected a hello event, got {str(frame)[:80]}")
    data = frame.get("data")
    return data if isinstance(data, dict) else {}


def _received_code(exc: ConnectionClosed) -> int | None:
    """The close code the gateway sent, if a close frame arrived at all."""
    return exc.rcvd.code if exc.rcvd is not None else None
