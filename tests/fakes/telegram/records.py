"""What the fake records and answers: sent messages, calls, chat actions, API errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TERMINATED_BY_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code", "description", "parameters"}``."""

    def __init__(self, status: int, description: str, *, retry_after: float | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            whole = float(self.retry_after).is_integer()
            body["parameters"] = {
                "retry_after": int(self.retry_after) if whole else self.retry_after
            }
        return body


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent (sendMessage) or rewrote (editMessageText), as accepted."""

    method: str
    chat_id: int | str
    text: str
    """The text exactly as the bot sent it (with tags, for parse_mode HTML)."""
    parse_mode: str | None
    message_id: int
    at: float
    """``time.monotonic()`` when the fake accepted it."""
    visible_text: str
    """The text as Telegram stores it: tags stripped, entities decoded, trimmed."""
    message_thread_id: int | None = None
    reply_to_message_id: int | None = None
    buttons: tuple[tuple[str, str], ...] = ()
    """The inline keyboard's buttons, ``(text, callback_data)``, row by row."""


@dataclass
class RecordedCall:
    """One Bot API request, recorded on arrival; ``status`` is set once answered."""

    method: str
    params: dict[str, Any]
    token: str
    at: float
    status: int | None = None
    description: str | None = None
    """The error description, for failed calls."""


@dataclass(frozen=True)
class ChatAction:
    chat_id: int | str
    action: str
    at: float
    message_thread_id: int | None = None
