"""The Telegram channel as a feature of `roost run`: ``TelegramService(core)``.

It contributes the ``telegram`` outbox channel (wired in with the App, so replies a
previous run left unsent wait for the service instead of finding no channel) and,
in webhook mode, the webhook's public route on the gateway. ``start`` checks
the token (``getMe``; a refused token is a ``StartupError`` naming
``telegram.token``), removes a stale webhook (polling) or sets ours (webhook mode),
registers the command menu, then polls in the background. If Telegram cannot be
reached at start, Roost starts anyway: the service reports ``degraded`` and keeps
trying. Health: ``starting``, ``ok``, ``degraded`` (with the last error) or
``stopped``, plus the time of the last successful poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from telegram import BotCommand
from telegram.constants import ChatAction
from telegram.error import InvalidToken, RetryAfter, TelegramError

from roost.channels.telegram.access import Access, Pairings
from roost.channels.telegram.approvals import ApprovalButtons
from roost.channels.telegram.bot import (
    describe,
    hide_token_in_logs,
    polling_bot,
    retry_after_s,
    sending_bot,
)
from roost.channels.telegram.chats import ChatRef, Chats
from roost.channels.telegram.commands import APPROVED_NOTICE, MENU
from roost.channels.telegram.context import ChannelContext
from roost.channels.telegram.delivery import TelegramChannel
from roost.channels.telegram.inbound import UpdateHandler
from roost.channels.telegram.polling import ALLOWED_UPDATES, Poller, Status
from roost.channels.telegram.progress import ProgressReporter
from roost.channels.telegram.ratelimit import SendLimiter
from roost.channels.telegram.typing_indicator import TypingIndicator
from roost.channels.telegram.updates import UpdateLog, bot_id_of
from roost.channels.telegram.webhook import WebhookReceiver
from roost.errors import StartupError
from roost.features.contract import Feature, HttpRoute
from roost.store.state import StateStore
from roost.supervise import supervise

if TYPE_CHECKING:
    from roost.bus.dispatcher import Channel
    from roost.features.methods import Method
    from roost.ports import CorePorts

log = logging.getLogger(__name__)

START_TIMEOUT_S = 5.0
"""How long `roost run` waits for Telegram at start before going on without it."""
SETUP_TIMEOUT_S = 15.0
SETUP_RETRY_MAX_S = 300.0
STOP_GRACE_S = 10.0
"""How long stopping waits for the update being handled (its answer, its offset)."""


class TelegramService(Feature):
    name = "telegram"

    def __init__(self, core: CorePorts) -> None:
        config = core.settings.telegram
        if config is None:
            raise ValueError("TelegramService needs a telegram: section in the config")
        self.config = config
        self.token = config.token.get_secret_value()
        self.store = StateStore(core.store)
        self.status = Status()
        self._sender = sending_bot(config)
        access = Access(config, Pairings(self.store), self.store)
        chats = Chats(self.store, self._default_agent, lambda: list(core.agents))
        self.ctx = ChannelContext(core, config, self._sender.bot, access, chats)
        self.buttons = ApprovalButtons(self.ctx, lambda: self._sender.bot)
        self.handler = UpdateHandler(self.ctx, self.buttons)
        self.channel = TelegramChannel(
            lambda: self._sender.bot,
            access,
            core.outbox.records,
            lambda: self.token,
            SendLimiter(config.rate_limit),
        )
        self.typing = TypingIndicator(core.events, self._send_typing, self._may_show)
        self.progress = (
            ProgressReporter(core.events, lambda: self._sender.bot, self._may_show)
            if config.progress
            else None
        )
        self.updates = UpdateLog(self.store, bot_id_of(self.token))
        self.poller = Poller(
            lambda: polling_bot(config),
            self.handler.handle,
            self.updates,
            self.status,
            config.poll_timeout_s,
            self.token,
        )
        webhook = config.webhook
        self.webhook = (
            WebhookReceiver(
                webhook.secret.get_secret_value(),
                lambda: self._sender.bot,
                self.handler.handle,
                self.updates,
            )
            if webhook is not None
            else None
        )
        self._task: asyncio.Task[None] | None = None
        self._set_up = False

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook is not None else "polling"

    def channels(self) -> Sequence[Channel]:
        return [self.channel]

    def gateway_methods(self) -> Sequence[Method]:
        """``telegram.pairing.list|approve``, for the control page (docs/protocol.md)."""
        from roost.channels.telegram.gateway_methods import pairing_methods

        return pairing_methods(self.ctx.access.pairings, self.ctx.say, APPROVED_NOTICE)

    def http_routes(self) -> Sequence[HttpRoute]:
        """The route the gateway mounts in webhook mode (no gateway token on it)."""
        if self.webhook is None or self.config.webhook is None:
            return ()
        return [HttpRoute(self.webhook.route(self.config.webhook.path), public=True)]

    async def _tell_owners(self, text: str) -> None:
        """A budget notice to each owner listed by id (their private chat with the bot),
        through the outbox: stored first, so a notice is not lost to a restart."""
        for owner in sorted(self.ctx.access.owner_ids):
            await self.ctx.say(ChatRef(owner), text)

    def _default_agent(self) -> str:
        return self.ctx.default_agent()

    async def start(self) -> None:
        self.status.state = "starting"
        hide_token_in_logs(self.token)
        if self.ctx.access.nobody:
            log.warning(
                "telegram.allowed_users is empty: nobody can talk to the bot (strangers get "
                "pairing codes: `roost pairing approve CODE`)"
            )
        try:
            await asyncio.wait_for(self._set_up_bot(), START_TIMEOUT_S)
        except InvalidToken as exc:
            raise StartupError(
                f"telegram.token: Telegram refused the token ({describe(exc, self.token)} from "
                f"getMe at {self.config.api_base_url}); copy it again from @BotFather"
            ) from None
        except (TelegramError, OSError, TimeoutError) as exc:
            self._unreachable(exc)
        self.channel.ready.set()
        if self.ctx.core.budget is not None:
            self.ctx.core.budget.sinks.append(self._tell_owners)
        self.typing.start()
        self.buttons.start()
        if self.progress is not None:
            self.progress.start()
        self._task = asyncio.create_task(supervise("telegram", self._run), name="telegram")

    def _unreachable(self, exc: BaseException) -> None:
        error = describe(exc, self.token) if str(exc) else "no answer in time"
        self.status.degraded(error)
        log.warning(
            "telegram: cannot set up the bot at %s (%s); Roost runs on and keeps trying",
            self.config.api_base_url,
            error,
        )

    async def _set_up_bot(self) -> None:
        bot = self._sender.bot
        me = await bot.get_me()
        self.ctx.bot_id, self.ctx.bot_username = me.id, me.username or ""
        webhook = self.config.webhook
        if webhook is not None:
            await bot.set_webhook(
                webhook.url,
                secret_token=webhook.secret.get_secret_value(),
                allowed_updates=ALLOWED_UPDATES,
            )
        else:
            await bot.delete_webhook()
        await bot.set_my_commands([BotCommand(name, text) for name, text in MENU])
        self._set_up = True
        self.status.state = "ok"
        if self.webhook is not None:
            self.webhook.accepting = True
        log.info("telegram: @%s is ready (%s)", self.ctx.bot_username, self.mode)

    async def _run(self) -> None:
        delay = 1.0
        while not self._set_up:
            try:
                await asyncio.wait_for(self._set_up_bot(), SETUP_TIMEOUT_S)
            except (TelegramError, OSError, TimeoutError) as exc:
                self._unreachable(exc)
                wait = retry_after_s(exc) if isinstance(exc, RetryAfter) else delay
                await asyncio.sleep(wait)
                delay = min(delay * 2, SETUP_RETRY_MAX_S)
        if self.webhook is None:
            await self.poller.run()

    async def stop(self) -> None:
        budget = self.ctx.core.budget
        if budget is not None and self._tell_owners in budget.sinks:
            budget.sinks.remove(self._tell_owners)
        if self.webhook is not None:
            self.webhook.accepting = False
        if self._task is not None:
            await self.poller.stop_gracefully(STOP_GRACE_S)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.status.state = "stopped"
        await self.typing.stop()
        await self.buttons.stop()
        if self.progress is not None:
            await self.progress.stop()
        await self._sender.close()

    def health(self) -> dict[str, Any]:
        found = self.status.as_dict() | {"mode": self.mode}
        if self.ctx.bot_username:
            found["bot"] = "@" + self.ctx.bot_username
        return found

    async def _send_typing(self, chat: ChatRef) -> None:
        await self._sender.bot.send_chat_action(
            chat.chat_id, ChatAction.TYPING, message_thread_id=chat.thread_id
        )

    async def _may_show(self, chat: ChatRef) -> bool:
        return await self.ctx.access.chat_for_delivery(chat.chat_id) is not None
