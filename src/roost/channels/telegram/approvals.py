"""Approvals in Telegram: the owner's Approve / Deny / Always buttons.

When a tool asks (``approval.requested`` on the ``approvals`` topic), each owner
(``telegram.allowed_users``) gets a message with the request and inline buttons.
A tap (``callback_query``) decides through the approval gate (``CorePorts.approvals()``)
— only an owner's: paired users chat with agents but do not approve commands; others
are told so and nothing changes. Every tap is answered (``answerCallbackQuery``) and,
once decided (here or elsewhere: the CLI, the WebSocket, the timeout), the message is
edited to show the decision and loses its buttons; a second tap says it was decided
already. The messages are sent directly, not through the outbox: an approval is
useful only while its turn waits (the CLI decides too when Telegram cannot).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from roost.bus.events import Event
from roost.channels.telegram.context import ChannelContext
from roost.channels.telegram.formatting import escape_html
from roost.tools.approval import APPROVALS_TOPIC, DecideError, Decision

log = logging.getLogger(__name__)

PREFIX = "approval:"
"""``callback_data``: ``approval:<id>:<approve|deny|always>`` (within Telegram's 64 bytes)."""
_DECISIONS = {"approve": Decision.APPROVED, "deny": Decision.DENIED, "always": Decision.ALWAYS}
_SHOWN = {
    "approved": "✅ Approved",
    "always": "✅ Approved, and allowed from now on",
    "denied": "⛔ Denied",
    "timed_out": "⌛ Denied: nobody decided in time",
    "abandoned": "⛔ Withdrawn: the turn was cancelled or Roost stopped",
}
MAX_SUMMARY_CHARS = 3000
"""Telegram messages hold 4096 characters; the rest of a long command is elided."""


def request_text(approval: dict[str, Any]) -> str:
    summary = approval["summary"]
    if len(summary) > MAX_SUMMARY_CHARS:
        summary = summary[:MAX_SUMMARY_CHARS] + f"… ({len(approval['summary'])} characters)"
    return (
        f"🔐 <b>{escape_html(approval['agent'])}</b> asks to use "
        f"<b>{escape_html(approval['tool'])}</b>:\n<pre>{escape_html(summary)}</pre>\n"
        f"Approval #{approval['id']}"
    )


def decided_text(approval: dict[str, Any]) -> str:
    shown = _SHOWN.get(approval["state"], approval["state"])
    by = approval.get("decided_by")
    return f"{request_text(approval)}\n\n{shown}" + (f" ({escape_html(by)})" if by else "")


def keyboard(approval: dict[str, Any]) -> InlineKeyboardMarkup:
    base = f"{PREFIX}{approval['id']}:"
    row = [
        InlineKeyboardButton("Approve", callback_data=base + "approve"),
        InlineKeyboardButton("Deny", callback_data=base + "deny"),
    ]
    if approval.get("pattern"):
        row.append(InlineKeyboardButton("Always", callback_data=base + "always"))
    return InlineKeyboardMarkup([row])


class ApprovalButtons:
    def __init__(self, ctx: ChannelContext, bot: Callable[[], Bot]) -> None:
        self._ctx = ctx
        self._bot = bot
        self._sent: dict[int, list[tuple[int, int]]] = {}
        """Approval id → the (chat, message) showing it, to edit once it is decided."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self._ctx.core.approvals() is not None:
            self._unsubscribe = self._ctx.core.events.subscribe(APPROVALS_TOPIC, self._on_event)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _on_event(self, event: Event) -> None:
        work = self._ask if event.name == "approval.requested" else self._show_decided
        task = asyncio.create_task(work(event.data), name=f"telegram-{event.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _owner_chats(self) -> list[int]:
        access = self._ctx.access
        chats = set(access.owner_ids)
        for name in access.owner_names:
            found = await access.chat_for_delivery(name)
            if found is not None:
                chats.add(found)
        return sorted(chats)

    async def _ask(self, approval: dict[str, Any]) -> None:
        chats = await self._owner_chats()
        if not chats:
            log.warning(
                "telegram: approval %d cannot be shown: no owner chat is known "
                "(telegram.allowed_users)",
                approval["id"],
            )
        for chat in chats:
            try:
                sent = await self._bot().send_message(
                    chat, request_text(approval), parse_mode="HTML", reply_markup=keyboard(approval)
                )
            except TelegramError as exc:
                log.warning(
                    "telegram: could not show approval %d to %d: %s", approval["id"], chat, exc
                )
                continue
            self._sent.setdefault(approval["id"], []).append((chat, sent.message_id))

    async def _show_decided(self, approval: dict[str, Any]) -> None:
        for chat, message_id in self._sent.pop(approval["id"], []):
            await self._edit(chat, message_id, approval)

    async def _edit(self, chat: int, message_id: int, approval: dict[str, Any]) -> None:
        try:
            await self._bot().edit_message_text(
                decided_text(approval), chat_id=chat, message_id=message_id, parse_mode="HTML"
            )
        except TelegramError as exc:  # deleted by the owner, or shown already
            log.info("telegram: could not update approval %d's message: %s", approval["id"], exc)

    async def on_callback(self, query: CallbackQuery) -> None:
        """A button was tapped: decide (owners only), answer the tap, show the result."""
        approval_id, decision = _parse(query.data or "")
        if approval_id is None or decision is None:
            await self._answer(query, "This button is not Roost's (or is too old).")
            return
        user = query.from_user
        if not self._ctx.access.is_owner(user.id, user.username):
            log.info(
                "telegram: refused user %d (@%s) deciding approval %d: not an owner",
                user.id,
                user.username or "-",
                approval_id,
            )
            await self._answer(query, "Only the owner can decide approvals.")
            return
        gate = self._ctx.core.approvals()
        if gate is None:
            await self._answer(query, "Approvals are not available.")
            return
        who = f"telegram:{user.id}" + (f" (@{user.username})" if user.username else "")
        try:
            approval = await gate.decide(approval_id, decision, who)
        except DecideError as exc:
            await self._answer(query, str(exc).capitalize())
            return
        await self._answer(query, _SHOWN.get(approval["state"], "Done"))

    async def _answer(self, query: CallbackQuery, text: str) -> None:
        try:
            await self._bot().answer_callback_query(query.id, text=text[:200])
        except TelegramError as exc:
            log.info("telegram: could not answer a button tap: %s", exc)


def _parse(data: str) -> tuple[int | None, Decision | None]:
    if not data.startswith(PREFIX):
        return None, None
    number, _, action = data.removeprefix(PREFIX).partition(":")
    if not number.isdigit():
        return None, None
    return int(number), _DECISIONS.get(action)
