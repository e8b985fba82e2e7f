"""getUpdates long polling, and the webhook methods that decide whether it may run.

A poll waits on the server loop's "state changed" event, so an injected update
(or a stop, or a newer poll) wakes it at once. As on Telegram, a newer getUpdates
terminates an older one still waiting with 409 Conflict, and getUpdates is
refused while a webhook is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.telegram.params import bool_param, float_param, int_param, json_param
from tests.fakes.telegram.records import TERMINATED_BY_OTHER_POLL, ApiError
from tests.fakes.telegram.state import TelegramState

_DEFAULT_TYPES_TEXT = (
    "message edited_message channel_post edited_channel_post business_connection "
    "business_message edited_business_message deleted_business_messages inline_query "
    "chosen_inline_result callback_query shipping_query pre_checkout_query "
    "purchased_paid_media poll poll_answer my_chat_member chat_join_request "
    "chat_boost removed_chat_boost"
)
DEFAULT_UPDATE_TYPES = frozenset(_DEFAULT_TYPES_TEXT.split())
"""Everything but chat_member and the reactions, which need an explicit opt-in."""


class Polling:
    """``current_change`` returns the server loop's "state changed" event; it is taken
    *before* looking at the state, so a wake-up between look and wait is never lost."""

    def __init__(self, state: TelegramState, current_change: Callable[[], asyncio.Event]):
        self.state = state
        self.current_change = current_change

    async def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        state = self.state
        limit = min(max(int_param(params, "limit") or 100, 1), 100)
        deadline = time.monotonic() + max(float_param(params, "timeout") or 0.0, 0.0)
        allowed = json_param(params, "allowed_updates")
        with state.lock:
            if state.webhook_url:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            state.confirm(int_param(params, "offset"))
            if isinstance(allowed, list):
                state.allowed_updates = frozenset(allowed) or None
            state.poll_generation += 1
            generation = state.poll_generation
        state.changed()  # an older poll still waiting is now terminated
        await self._wait_out_stall()
        while True:
            change = self.current_change()
            batch = self._deliverable(generation, limit)
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or state.stopping.is_set():
                return batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(change.wait(), remaining)

    async def _wait_out_stall(self) -> None:
        while not self.state.stopping.is_set():
            change = self.current_change()
            with self.state.lock:
                remaining = self.state.stall_until - time.monotonic()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(change.wait(), remaining)

    def _deliverable(self, generation: int, limit: int) -> list[dict[str, Any]]:
        state = self.state
        with state.lock:
            if generation != state.poll_generation:
                raise ApiError(409, TERMINATED_BY_OTHER_POLL)
            allowed = state.allowed_updates or DEFAULT_UPDATE_TYPES
            # Updates of a type the bot did not ask for are dropped, never delivered.
            state.pending = [u for u in state.pending if _update_type(u) in allowed]
            return [dict(update) for update in state.pending[:limit]]

    def delete_webhook(self, params: dict[str, Any]) -> bool:
        with self.state.lock:
            self.state.webhook_url = ""
            if bool_param(params, "drop_pending_updates"):
                self.state.pending = []
        return True

    def set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        with self.state.lock:
            self.state.webhook_url = url
            if bool_param(params, "drop_pending_updates"):
                self.state.pending = []
        self.state.changed()
        return True

    def get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.state.lock:
            url, pending = self.state.webhook_url, len(self.state.pending)
        return {"url": url, "has_custom_certificate": False, "pending_update_count": pending}


def _update_type(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")
