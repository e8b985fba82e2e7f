"""Webhook mode: Telegram POSTs each update to ``telegram.webhook.url``.

The gateway serves the route (``TelegramService.webhook_route()``, at
``telegram.webhook.path``); it must not ask for the gateway token there, because
Telegram authenticates with the ``X-Telegram-Bot-Api-Secret-Token`` header
instead, which is checked here against ``telegram.webhook.secret``.

Telegram sends updates one at a time and re-sends an update until it gets a 2xx.
So: an update is handled, then its offset saved (as in polling), then 200. An
update id below the saved offset was handled already and is acknowledged at once.
While Roost stops (``RouterStopped``) the answer is 503, so Telegram re-sends it
after the restart; an update whose handling fails gets 500 and is re-sent, and
after ``MAX_HANDLE_ATTEMPTS`` it is acknowledged and skipped.
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
from roost.channels.telegram.polling import MAX_HANDLE_ATTEMPTS, OFFSET_KEY
from roost.store.state import StateStore

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1_048_576


class WebhookReceiver:
    def __init__(
        self,
        secret: str,
        bot: Callable[[], Bot],
        handle: Callable[[Update], Awaitable[None]],
        store: StateStore,
    ) -> None:
        self._secret = secret.encode()
        self._bot = bot
        self._handle = handle
        self._store = store
        self._lock = asyncio.Lock()
        self._offset: int | None = None
        self._failures: dict[int, int] = {}
        self.accepting = False
        """Set once the service started; before that every update gets 503."""

    def route(self, path: str) -> Route:
        return Route(path, self.endpoint, methods=["POST"])

    async def endpoint(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            client = request.client.host if request.client else "?"
            log.warning("telegram: webhook call from %s without the right secret", client)
            return Response(status_code=403)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return Response(status_code=413)
        try:
            data = json.loads(body)
        except ValueError:
            return Response(status_code=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return Response(status_code=400)
        return Response(status_code=await self.receive(data))

    async def receive(self, data: dict[str, object]) -> int:
        """Handle one update; the HTTP status to answer Telegram with."""
        if not self.accepting:
            return 503
        async with self._lock:
            update = Update.de_json(data, self._bot())
            if self._offset is None:
                self._offset = await self._store.get(OFFSET_KEY)
            if self._offset is not None and update.update_id < self._offset:
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
            self._failures.pop(update.update_id, None)
            self._offset = update.update_id + 1
            await self._store.set(OFFSET_KEY, self._offset)
            return 200
