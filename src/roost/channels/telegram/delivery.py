"""The ``telegram`` channel of the outbox: replies, agents' messages, job results, alerts.

A delivery is split (``split_message``) into parts that each fit one message,
sent in order as HTML (``markdown_to_html``); a part whose HTML Telegram still
refuses ("can't parse entities") is sent again as plain text, never dropped.
As soon as Telegram confirms a part (the last one too), how far the delivery got
(``sent_parts``, ``message_ids``) is saved on it, ahead of other writes waiting,
so a retry or a restart resumes after the last part sent instead of repeating
parts; the dispatcher then marks the delivery delivered (in its batch) with the
message ids as the channel's reference. A part whose send was under way when the
process died (sent, Telegram's answer not yet stored) is sent again after the
restart: at least once, since the Bot API has no idempotency key and a lost reply
is worse than a repeated one (docs/telegram.md, "Delivery guarantees").

Each message waits for the ``SendLimiter`` (Telegram's per-chat, per-group and
global limits; a single reply never waits) before it is sent.

Failures map onto the dispatcher's retry rules: 429 waits ``retry_after``; network
errors, timeouts and 5xx are retried with backoff; a blocked bot, an unknown chat,
or a chat that is neither an allowed user's nor an allowed group is permanent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telegram import Bot, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from roost.bus.dispatcher import DeliveryError
from roost.bus.envelope import AddressError, Delivery, agent_name
from roost.channels.telegram.access import Access
from roost.channels.telegram.bot import describe, retry_after_s
from roost.channels.telegram.chats import parse_target
from roost.channels.telegram.chunking import split_message
from roost.channels.telegram.formatting import markdown_to_html
from roost.channels.telegram.ratelimit import SendLimiter

if TYPE_CHECKING:
    from roost.ports import OutboxRecords

log = logging.getLogger(__name__)

READY_WAIT_S = 30.0
EMPTY_REPLY = "(empty reply)"


class TelegramChannel:
    scheme = "telegram"

    def __init__(
        self,
        bot: Callable[[], Bot],
        access: Access,
        records: OutboxRecords,
        token: Callable[[], str],
        limiter: SendLimiter,
    ) -> None:
        self._bot = bot
        self._limiter = limiter
        self._access = access
        self._records = records
        self._token = token
        self.ready = asyncio.Event()
        """Set once the service started: deliveries left by a previous run wait for it."""

    async def deliver(self, delivery: Delivery) -> str | None:
        try:
            chat, thread = parse_target(delivery.target)
        except AddressError as exc:
            raise DeliveryError(str(exc), permanent=True) from None
        await self._wait_until_ready()
        chat_id = await self._access.chat_for_delivery(chat)
        if chat_id is None:
            log.warning("refused delivery %d: %s is not an allowed chat", delivery.id, chat)
            raise DeliveryError(
                f"chat {chat} is neither an allowed user's nor an allowed group "
                "(telegram.allowed_users, telegram.groups.allowed)",
                permanent=True,
            )
        parts = split_message(labelled(delivery)) or [EMPTY_REPLY]
        sent = int(delivery.meta.get("sent_parts", 0))
        ids = [int(i) for i in delivery.meta.get("message_ids", [])][:sent]
        if sent >= len(parts):
            log.info("delivery %d: every part was sent before a restart", delivery.id)
        for index in range(sent, len(parts)):
            ids.append(await self._send_part(chat_id, thread, parts[index]))
            delivery.meta = {**delivery.meta, "sent_parts": index + 1, "message_ids": ids}
            await self._record(delivery)
        return ",".join(str(i) for i in ids)

    async def _record(self, delivery: Delivery) -> None:
        """Store at once that a part went out, the last one too (the dispatcher's mark
        comes in a batch a little later): a crash after this sends nothing again."""
        try:
            await self._records.record_progress(delivery.id, delivery.meta, urgent=True)
        except Exception:  # the part is out: failing the delivery would send it again
            log.exception("delivery %d: could not record the parts sent", delivery.id)

    async def _wait_until_ready(self) -> None:
        try:
            await asyncio.wait_for(self.ready.wait(), READY_WAIT_S)
        except TimeoutError:
            raise DeliveryError("the Telegram channel has not started yet") from None

    async def _send_part(self, chat_id: int, thread: int | None, text: str) -> int:
        bot = self._bot()
        try:
            try:
                await self._limiter.acquire(chat_id)
                message = await _send(bot, chat_id, thread, markdown_to_html(text), ParseMode.HTML)
            except BadRequest as exc:
                if "can't parse entities" not in exc.message.lower():
                    raise
                log.warning("Telegram refused the formatting (%s); sending plain text", exc.message)
                await self._limiter.acquire(chat_id)
                message = await _send(bot, chat_id, thread, text, None)
        except TelegramError as exc:
            raise self._error(exc, chat_id) from None
        return message.message_id

    def _error(self, exc: TelegramError, chat_id: int) -> DeliveryError:
        text = describe(exc, self._token())
        if isinstance(exc, RetryAfter):
            return DeliveryError(text, retry_after=retry_after_s(exc))
        if isinstance(exc, Forbidden | ChatMigrated):
            return DeliveryError(f"chat {chat_id}: {text}", permanent=True)
        if isinstance(exc, BadRequest):
            return DeliveryError(f"chat {chat_id}: {text}", permanent=True)
        if isinstance(exc, InvalidToken | NetworkError):
            return DeliveryError(text)  # network, timeout, 5xx, or a token being fixed
        return DeliveryError(text)


def _send(
    bot: Bot, chat_id: int, thread: int | None, text: str, mode: str | None
) -> Awaitable[Message]:
    kwargs: dict[str, Any] = {"message_thread_id": thread} if thread is not None else {}
    return bot.send_message(chat_id, text, parse_mode=mode, **kwargs)


def labelled(delivery: Delivery) -> str:
    """The text to send: what an agent sends on its own, or a job result, says who from."""
    body = delivery.body
    sender = agent_name(delivery.sender)
    if delivery.meta.get("kind") == "message" and sender:
        return f"**{sender}:** {body}"
    if delivery.meta.get("kind") == "job_result":
        return f"**Job {delivery.meta.get('job') or delivery.sender.removeprefix('job:')}:** {body}"
    return body
