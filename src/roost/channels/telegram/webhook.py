"""Webhook mode: Telegram POSTs each update to ``telegram.webhook.url``.

The gateway serves the route (``TelegramService.http_routes()``, at
``telegram.webhook.path``); it must not ask for the gateway token there, because
Telegram authenticates with the ``X-Telegram-Bot-Api-Secret-Token`` header
instead, which is checked here against ``telegram.webhook.secret``.

Requests without the header, or with a wrong one, get 403 whatever the config says
(the config refuses an empty secret; the comparison takes constant time). A request
with the right secret but a body that is not an update gets 400 (413 when over
``MAX_BODY_BYTES``). Each refusal is logged in one line, without the secret.

Telegram sends updates one at a time and re-sends an update until it gets a 2xx.
So: an update is handled, then its id saved in the bot's ``UpdateLog`` (as in
polling), then 200. An update handled already (the same id, re-sent because the 200
got lost) is logged and acknowledged at once; ids are compared for equality only,
since Telegram may start again from a lower id after a quiet week. While Roost stops
(``RouterStopped``) the answer is 503, so Telegram re-sends it after the restart; an
update whose handling fails gets 500 and is re-sent, and after
``MAX_HANDLE_ATTEMPTS`` it is acknowledged and skipped.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, Update

from roost.bus.router import RouterStopped
from roost.channels.telegram.polling import MAX_HANDLE_ATTEMPTS
from roost.channels.telegram.updates import UpdateLog

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1_048_576
"""Far above any update Telegram sends (texts are at most 4,096 characters)."""


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class WebhookReceiver:
    def __init__(
        self,
        secret: str,
        bot: Callable[[], Bot],
        handle: Callable[[Update], Awaitable[None]],
        updates: UpdateLog,
    ) -> None:
        self._secret = secret.encode()
        self._bot = bot
        self._handle = handle
        self._updates = updates
        self._lock = asyncio.Lock()
        self._failures: dict[int, int] = {}
        self.accepting = False
        """Set once the service started; before that every update gets 503."""

    def route(self, path: str) -> Route:
        return Route(path, self.endpoint, methods=["POST"])

    async def endpoint(self, request: Request) -> Response:
        client = request.client.host if request.client else "?"
        try:
            self._check_secret(request)
            update = self._parse(await _read_body(request))
        except _Refused as refused:
            log.warning(
                "telegram: webhook call from %s refused (%d): %s", client, refused.status, refused
            )
            return Response(status_code=refused.status)
        return Response(status_code=await self.receive(update))

    def _check_secret(self, request: Request) -> None:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            raise _Refused(403, f"no {SECRET_HEADER} header")
        # An empty configured secret is refused by the config; never let it match.
        if not self._secret or not hmac.compare_digest(given.encode(), self._secret):
            raise _Refused(403, f"wrong {SECRET_HEADER} header")

    def _parse(self, body: bytes) -> Update:
        try:
            data = json.loads(body)
        except ValueError:
            raise _Refused(400, "the body is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise _Refused(400, "the body is not a Telegram update (no integer update_id)")
        try:
            return Update.de_json(data, self._bot())
        except Exception as exc:  # PTB raises whatever the shape of the data provokes
            raise _Refused(400, f"update {data['update_id']} is malformed ({exc!r:.200})") from None

    async def receive(self, update: Update) -> int:
        """Handle one update; the HTTP status to answer Telegram with."""
        if not self.accepting:
            return 503
        async with self._lock:
            await self._updates.load()
            if self._updates.seen(update.update_id):
                self._updates.drop(update.update_id, "webhook")
                return 200
            try:
                await self._handle(update)
            except RouterStopped:
                return 503
            except Exception:
                count = self._failures[update.update_id] = (
                    self._failures.get(update.update_id, 0) + 1
                )
                log.exception("telegram: handling webhook update %d failed", update.update_id)
                if count < MAX_HANDLE_ATTEMPTS:
                    return 500
                log.error(
                    "telegram: skipping webhook update %d after %d failed attempts",
                    update.update_id,
                    count,
                )
            self._failures.pop(update.update_id, None)
            await self._updates.handled(update.update_id)
            return 200


async def _read_body(request: Request) -> bytes:
    """The body, refused (413) past ``MAX_BODY_BYTES`` without reading all of it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _Refused(413, f"body of {declared} bytes (limit {MAX_BODY_BYTES})")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _Refused(413, f"body over {MAX_BODY_BYTES} bytes")
    return bytes(body)
