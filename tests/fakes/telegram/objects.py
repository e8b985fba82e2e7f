"""Bot API objects as the fake builds them: users, chats, entities, files.

Shapes follow https://core.telegram.org/bots/api closely enough that
python-telegram-bot's ``de_json`` accepts them with every field the product reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from tests.fakes.telegram.html_entities import utf16_len

ChatType = Literal["private", "group", "supergroup", "channel"]

_BOT_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{5,32}\b")


@dataclass(frozen=True)
class StoredFile:
    """A file a test injected; served by getFile and the download route."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }


def user_json(
    user_id: int, *, first_name: str, username: str | None, is_bot: bool = False
) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if username:
        user["username"] = username
    if not is_bot:
        user["language_code"] = "en"
    return user


def chat_json(
    chat_id: int | str,
    chat_type: ChatType,
    *,
    user: dict[str, Any] | None = None,
    is_forum: bool = False,
) -> dict[str, Any]:
    """A Chat: private chats carry the user's names, the others a title."""
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = (user or {}).get("first_name", "User")
        if user and "username" in user:
            chat["username"] = user["username"]
    else:
        chat["title"] = f"Test {chat_type} {chat_id}"
        if is_forum:
            chat["is_forum"] = True
    return chat


def chat_full_info(chat: dict[str, Any]) -> dict[str, Any]:
    """getChat's ChatFullInfo: the Chat plus the fields the Bot API always sends."""
    return {
        **chat,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


def text_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram attaches to a typed message: a leading command, @mentions."""
    entities: list[dict[str, Any]] = []
    command = _BOT_COMMAND.match(text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command[0])})
    for mention in _MENTION.finditer(text):
        if command and mention.start() < command.end():
            continue  # "/start@bot" is one bot_command entity, not a command plus a mention
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: mention.start()]),
                "length": utf16_len(mention[0]),
            }
        )
    return entities
