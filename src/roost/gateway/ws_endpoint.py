"""The /ws endpoint: a client id, the hello event, what waited for the client, then serve."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket

from roost import __version__
from roost.gateway.auth import accepted_subprotocol
from roost.gateway.connection import Connection
from roost.gateway.protocol import CLOSE_GOING_AWAY, event_frame
from roost.gateway.state import GatewayState

log = logging.getLogger(__name__)

_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def client_id(requested: str | None) -> str:
    """The requested id if valid (1-64 of ``[A-Za-z0-9_.:-]``), else a random ``c-<hex>``."""
    if requested and _CLIENT_ID.fullmatch(requested):
        return requested
    return f"c-{secrets.token_hex(8)}"


def websocket_endpoint(state: GatewayState) -> Callable[[WebSocket], Awaitable[None]]:
    async def endpoint(websocket: WebSocket) -> None:
        await serve(state, websocket)

    return endpoint


async def serve(state: GatewayState, websocket: WebSocket) -> None:
    await websocket.accept(subprotocol=accepted_subprotocol(websocket.scope))
    if state.stopping.is_set():
        await websocket.close(CLOSE_GOING_AWAY, "shutting down")
        return
    client = client_id(websocket.query_params.get("client"))
    connection = Connection(websocket, client, state.connection_deps, state.clients.remove)
    state.clients.add(connection)
    task = asyncio.current_task()
    if task is not None:
        state.clients.track(task)
    hello = {"client": client, "version": __version__, "agents": list(state.core.agents)}
    connection.send(event_frame("hello", hello))
    log.debug("gateway: client %s connected", client)
    try:
        await state.channel.client_online(client)
    except Exception:
        log.exception("gateway: looking up what waits for client %s failed", client)
    try:
        await connection.run()
    finally:
        state.clients.remove(connection)
        log.debug("gateway: client %s disconnected", client)
