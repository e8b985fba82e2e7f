"""notify_owner: a message to the owner's Telegram chat, through the outbox.

Offered only when Telegram is configured with an owner chat (the first numeric id in
``telegram.allowed_users``, as the scheduler's alerts use). Capped in length and rate
per agent, so a model in a loop (or one talked into it by what it read) cannot flood
the owner's phone; past the rate it reads an error and the owner is not disturbed.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from roost.bus.envelope import Delivery, agent_address
from roost.features.contract import Feature
from roost.tools.registry import Tool, ToolContext, ToolError

if TYPE_CHECKING:
    from roost.config.settings import Settings
    from roost.ports import CorePorts, Outbox

log = logging.getLogger(__name__)

MAX_NOTIFY_CHARS = 2000
NOTIFY_PER_HOUR = 10
_HOUR_S = 3600.0


class NotifyArgs(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_NOTIFY_CHARS)


def owner_chat(settings: Settings) -> str | None:
    """``telegram:<id>`` of the owner's private chat, or None (no Telegram, or owners by
    @username only: their chat id is not known from the config)."""
    telegram = settings.telegram
    for user in telegram.allowed_users if telegram else []:
        text = str(user).strip()
        if text.lstrip("-").isdigit():
            return f"telegram:{text}"
    return None


def doctor_checks(settings: Settings) -> list[tuple[bool | None, str]]:
    """`roost doctor`: agents that list notify_owner while there is no owner chat to send
    to (the tool is then not offered, which is easy to miss)."""
    if owner_chat(settings) is not None:
        return []
    listed = [name for name, agent in settings.agents.items() if "notify_owner" in agent.tools]
    if not listed:
        return []
    return [(None, _NO_OWNER.format(agents=", ".join(listed)))]


_NO_OWNER = (
    "notify_owner ({agents}): not offered, there is no owner chat: add the owner's numeric "
    "Telegram id to telegram.allowed_users"
)


class OwnerNotifier:
    def __init__(
        self,
        outbox: Outbox,
        target: str,
        per_hour: int = NOTIFY_PER_HOUR,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbox = outbox
        self._target = target
        self._per_hour = per_hour
        self._now = now
        self._sent: dict[str, deque[float]] = {}

    def tool(self) -> Tool:
        return Tool(
            "notify_owner",
            "Message your owner's phone (Telegram), briefly and sparingly.",
            NotifyArgs,
            self._notify,
        )

    async def _notify(self, context: ToolContext, args: NotifyArgs) -> str:
        now = self._now()
        sent = self._sent.setdefault(context.agent, deque())
        while sent and now - sent[0] >= _HOUR_S:
            sent.popleft()
        if len(sent) >= self._per_hour:
            raise ToolError(
                f"not sent: {self._per_hour} notifications in the last hour is the limit; "
                "put the rest in your answer"
            )
        sent.append(now)
        delivery = await self._outbox.queue(
            Delivery(
                target=self._target,
                sender=agent_address(context.agent),
                body=f"[{context.agent}] {args.text}",
                session=context.session,
                meta={"agent": context.agent, "kind": "notify_owner"},
            )
        )
        return f"queued for the owner (delivery {delivery.id})"


class NotifyFeature(Feature):
    """notify_owner, when there is an owner chat to notify."""

    name = "notify"

    def __init__(self, core: CorePorts) -> None:
        target = owner_chat(core.settings)
        self._settings = core.settings
        self._notifier = OwnerNotifier(core.outbox, target) if target else None

    async def start(self) -> None:
        # Only where Roost serves (not on every `roost ask`): said once, at start.
        for _, text in doctor_checks(self._settings):
            log.warning("%s", text)

    def tools(self) -> Sequence[Tool]:
        return [self._notifier.tool()] if self._notifier else []
