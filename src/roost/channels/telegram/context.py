"""What the channel's parts share: the core's ports, the config, the sending bot, access and chats.

Everything the channel says in a chat (command answers, "not supported" notes)
goes through the outbox like an agent's reply, so it is stored before it is sent,
retried, and kept in order with the replies to that chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import Bot

from roost.bus.envelope import Delivery, Envelope, agent_address
from roost.channels.telegram.access import Access
from roost.channels.telegram.chats import ChatRef, Chats
from roost.config.schema import TelegramConfig

if TYPE_CHECKING:
    from roost.ports import CorePorts

CHANNEL_SENDER = "telegram:bot"
"""The sender of what the channel itself says (command answers, notices)."""


@dataclass(frozen=True)
class Incoming:
    """One message from a person, as the channel handles it."""

    chat: ChatRef
    user_id: int
    username: str | None
    message_id: int
    text: str

    @property
    def meta(self) -> dict[str, Any]:
        return {
            "chat_id": self.chat.chat_id,
            "user_id": self.user_id,
            "username": self.username,
            "message_id": self.message_id,
            "thread_id": self.chat.thread_id,
        }


@dataclass
class ChannelContext:
    core: CorePorts
    config: TelegramConfig
    bot: Bot
    access: Access
    chats: Chats
    bot_id: int = 0
    bot_username: str = ""

    @property
    def token(self) -> str:
        return self.config.token.get_secret_value()

    def default_agent(self) -> str:
        agents = list(self.core.agents) or list(self.core.settings.agents)
        configured = self.config.default_agent
        if configured and configured in agents:
            return configured
        return agents[0] if agents else "assistant"

    async def say(self, chat: ChatRef, text: str, **meta: Any) -> None:
        """Queue ``text`` (Markdown) for ``chat`` in the outbox."""
        await self.core.outbox.queue(
            Delivery(target=chat.address, sender=CHANNEL_SENDER, body=text, meta=meta)
        )

    async def envelope_for(self, message: Incoming, agent: str, body: str) -> Envelope:
        """The envelope that takes ``body`` to ``agent``, in this chat's session.

        The caller submits it to the inbox (``core.inbox.submit``), which raises
        ``RouterStopped`` while Roost shuts down: the update is then not confirmed,
        and comes again after the restart.
        """
        state = await self.chats.get(message.chat)
        envelope = Envelope(
            sender=f"telegram:{message.user_id}",
            recipient=agent_address(agent),
            session=self.chats.session_key(message.chat, state),
            body=body,
            reply_to=message.chat.address,
            meta=message.meta,
            # Message ids count per chat *and bot*: another bot's message 1 is not this one.
            dedup_key=f"telegram:{self.bot_id}:{message.chat.chat_id}:{message.message_id}",
        )
        return envelope
