"""The WebSocket methods ``telegram.pairing.*``: pairing requests for gateway clients.

The control page's Telegram view answers strangers' pairing requests as `roost pairing
list|approve` and ``/approve CODE`` do, on the same ``Pairings`` (the state store): a
gateway client holds the gateway token, so it is an operator. Approving tells the new
user in their chat (through the outbox), as ``/approve`` does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import StringConstraints

from roost.channels.telegram.access import (
    Pairing,
    PairingError,
    Pairings,
    display_code,
)
from roost.channels.telegram.chats import ChatRef
from roost.features.methods import CallContext, Method, MethodError, NoParams, Params

log = logging.getLogger(__name__)

PAIRING_NOT_FOUND = "not_found"


class ApproveParams(Params):
    code: Annotated[str, StringConstraints(min_length=1, max_length=40)]


def pairing_dict(pairing: Pairing) -> dict[str, Any]:
    return {
        "code": pairing.code,
        "display_code": display_code(pairing.code),
        "user_id": pairing.user_id,
        "username": pairing.username,
        "chat_id": pairing.chat_id,
        "requested_at": _iso(pairing.created_at),
        "expires_at": _iso(pairing.expires_at),
    }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


Notify = Callable[..., Awaitable[None]]
"""How an approved user is told: ``ChannelContext.say(chat, text, **meta)``."""


def pairing_methods(pairings: Pairings, notify: Notify, notice: str) -> list[Method]:
    """``telegram.pairing.list`` and ``telegram.pairing.approve`` over ``pairings``."""

    async def list_pending(_: CallContext, __: NoParams) -> dict[str, Any]:
        return {"pairings": [pairing_dict(p) for p in await pairings.pending()]}

    async def approve(context: CallContext, params: ApproveParams) -> dict[str, Any]:
        try:
            pairing = await pairings.approve(params.code)
        except PairingError as exc:
            raise MethodError(PAIRING_NOT_FOUND, str(exc)) from None
        who = context.peer.client_id if context.peer is not None else "a gateway client"
        log.info("telegram: %s approved user %d", who, pairing.user_id)
        await notify(ChatRef(pairing.chat_id), notice, kind="command")
        return {"pairing": pairing_dict(pairing)}

    return [
        Method("telegram.pairing.list", NoParams, list_pending),
        Method("telegram.pairing.approve", ApproveParams, approve),
    ]
