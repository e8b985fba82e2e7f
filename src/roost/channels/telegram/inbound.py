"""One update in: who sent it, whether to act on it, and where it goes.

- ``callback_query`` updates (button taps) go to the approval buttons (``approvals``).
- Otherwise only ``message`` updates are acted on. Edited messages are ignored: the agent
  already answered the original, and a second answer to a corrected typo would be
  noise (they are not even requested from Telegram).
- Private chats: allowed users reach agents; a stranger gets one pairing code
  (``access``) and nothing else — no model call, no cost.
- Groups: only ``telegram.groups.allowed``, only when the bot is mentioned, replied
  to or given a command (unless ``require_mention: false``), only allowed users.
- Every refusal is logged with the user id.
- Commands are answered by the channel; text goes to the chat's agent; documents
  are saved into its workspace; other media get a "not supported yet" note.
"""

from __future__ import annotations

import logging
import re

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from roost.channels.telegram.access import display_code
from roost.channels.telegram.approvals import ApprovalButtons
from roost.channels.telegram.chats import ChatRef
from roost.channels.telegram.commands import Commands
from roost.channels.telegram.context import ChannelContext, Incoming
from roost.channels.telegram.documents import DocumentSaver, unsupported_kind
from roost.channels.telegram.formatting import markdown_to_html
from roost.tools.untrusted import untrusted

log = logging.getLogger(__name__)

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?:\s+(.*))?$", re.DOTALL)

PAIRING_REPLY = (
    "Hi! This bot is private, so I can't pass your messages on yet.\n"
    "If you know its owner, ask them to approve this code (valid for 1 hour):\n\n"
    "{code}\n\n"
    "Owner: run `roost pairing approve {code}`, or send /approve {code} to this bot."
)


class UpdateHandler:
    def __init__(self, ctx: ChannelContext, buttons: ApprovalButtons | None = None) -> None:
        self.ctx = ctx
        self.commands = Commands(ctx)
        self.documents = DocumentSaver(ctx)
        self.buttons = buttons

    async def handle(self, update: Update) -> None:
        if update.callback_query is not None:
            if self.buttons is not None:
                await self.buttons.on_callback(update.callback_query)
            return
        message = update.message
        if message is None:
            kind = "an edited message" if update.edited_message is not None else "not a message"
            log.info("telegram: ignored update %d: %s", update.update_id, kind)
            return
        user = message.from_user
        if user is None or user.is_bot:
            log.info("telegram: ignored update %d: not from a person", update.update_id)
            return
        chat = _chat_ref(message)
        incoming = Incoming(
            chat, user.id, user.username, message.message_id, message.text or message.caption or ""
        )
        if message.chat.type == ChatType.PRIVATE:
            if not await self._private_allowed(incoming):
                return
        elif not await self._group_allowed(message, incoming):
            return
        await self._dispatch(message, incoming)

    async def _private_allowed(self, incoming: Incoming) -> bool:
        access = self.ctx.access
        if await access.is_allowed(incoming.user_id, incoming.username):
            return True
        pairing = await access.pairings.request(
            incoming.user_id, incoming.username, incoming.chat.chat_id
        )
        log.info(
            "telegram: refused user %d (@%s) in a private chat: not allowed; %s",
            incoming.user_id,
            incoming.username or "-",
            "sent pairing code" if pairing else "no reply (a code is pending or too many are)",
        )
        if pairing is not None and not await self._send_pairing(incoming.chat, pairing.code):
            await access.pairings.withdraw(pairing.code)
        return False

    async def _send_pairing(self, chat: ChatRef, code: str) -> bool:
        # Sent directly, not through the outbox: the outbox only serves allowed chats.
        text = PAIRING_REPLY.format(code=display_code(code))
        try:
            await self.ctx.bot.send_message(chat.chat_id, markdown_to_html(text), parse_mode="HTML")
        except TelegramError as exc:
            log.warning("telegram: could not send the pairing code to %d: %s", chat.chat_id, exc)
            return False
        return True

    async def _group_allowed(self, message: Message, incoming: Incoming) -> bool:
        groups = self.ctx.config.groups
        access = self.ctx.access
        if incoming.chat.chat_id not in access.groups:
            log.info(
                "telegram: ignored user %d in group %d: the group is not in "
                "telegram.groups.allowed",
                incoming.user_id,
                incoming.chat.chat_id,
            )
            return False
        if groups.require_mention and not self._addressed(message):
            return False
        if not await access.is_allowed(incoming.user_id, incoming.username):
            log.info(
                "telegram: refused user %d (@%s) in group %d: not allowed",
                incoming.user_id,
                incoming.username or "-",
                incoming.chat.chat_id,
            )
            return False
        return True

    def _addressed(self, message: Message) -> bool:
        """Mentioned, replied to, or given a command (bare, or /cmd@this_bot)."""
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None:
            return replied.from_user.id == self.ctx.bot_id or self._mentioned(message)
        return self._mentioned(message)

    def _mentioned(self, message: Message) -> bool:
        name = self.ctx.bot_username.lower()
        text = message.text or message.caption or ""
        command = _COMMAND.match(text)
        if command is not None and (command.group(2) is None or command.group(2).lower() == name):
            return True
        entities = {**message.parse_entities(), **message.parse_caption_entities()}
        return any(self._is_us(entity, value) for entity, value in entities.items())

    def _is_us(self, entity: MessageEntity, value: str) -> bool:
        if entity.type == MessageEntity.MENTION:
            return value.lstrip("@").lower() == self.ctx.bot_username.lower()
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            return entity.user.id == self.ctx.bot_id
        return False

    async def _dispatch(self, message: Message, incoming: Incoming) -> None:
        command = _COMMAND.match(message.text or "")
        if command is not None:
            target = command.group(2)
            if target is not None and target.lower() != self.ctx.bot_username.lower():
                return  # /cmd@another_bot
            await self.commands.run(incoming, command.group(1).lower(), command.group(3) or "")
            return
        if message.document is not None:
            await self.documents.receive(incoming, message.document)
            return
        if message.text:
            state = await self.ctx.chats.get(incoming.chat)
            text = self._without_mention(message.text)
            if message.chat.type != ChatType.PRIVATE and not self.ctx.access.is_owner(
                incoming.user_id, incoming.username
            ):
                # A group member the owner allowed is still not the owner: data, not orders.
                text = untrusted(f"telegram group member {incoming.user_id}", text)
            await self.ctx.core.inbox.submit(
                await self.ctx.envelope_for(incoming, state.agent, text)
            )
            return
        kind = unsupported_kind(message)
        if kind is None:  # service messages (joins, pins…) are silently ignored
            return
        await self.ctx.say(
            incoming.chat,
            f"{kind} aren't supported yet. Send text, or a document (it is saved "
            "into the agent's workspace).",
        )

    def _without_mention(self, text: str) -> str:
        name = self.ctx.bot_username
        if not name:
            return text
        stripped = re.sub(rf"(?<!\w)@{re.escape(name)}\b", "", text, flags=re.IGNORECASE)
        return re.sub(r"[ \t]{2,}", " ", stripped).strip() or text


def _chat_ref(message: Message) -> ChatRef:
    thread = message.message_thread_id if message.is_topic_message else None
    return ChatRef(message.chat.id, thread)
