"""Test-side injection of what users do: text, edits, photos, stickers, voice, documents,
button presses. Each call queues one realistic update and returns its ``update_id``.
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.telegram.objects import ChatType, StoredFile, chat_json, text_entities, user_json
from tests.fakes.telegram.state import TelegramState

_GROUP_USER_ID = 4242
_PNG_BYTES = b"\x89PNG\r\n\x1a\n fake image"
_OGG_BYTES = b"OggS fake voice"


class Incoming(TelegramState):
    def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        username: str | None = "alice",
        first_name: str = "Alice",
        chat_type: ChatType = "private",
        message_thread_id: int | None = None,
        reply_to_bot: bool = False,
        entities: list[dict[str, Any]] | None = None,
    ) -> int:
        """A user's text message. Entities default to what Telegram would attach: a
        ``bot_command`` for a leading ``/command`` and a ``mention`` per ``@username``."""
        found = text_entities(text) if entities is None else entities
        content: dict[str, Any] = {"text": text, **({"entities": found} if found else {})}
        return self._message(
            "message",
            chat_id,
            content,
            user_id=user_id,
            username=username,
            first_name=first_name,
            chat_type=chat_type,
            message_thread_id=message_thread_id,
            reply_to_bot=reply_to_bot,
        )

    def send_edited_text(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        user_id: int | None = None,
        username: str | None = "alice",
        chat_type: ChatType = "private",
    ) -> int:
        """An ``edited_message`` update: the user changed message ``message_id``."""
        found = text_entities(text)
        content: dict[str, Any] = {"text": text, "edit_date": int(time.time())}
        if found:
            content["entities"] = found
        return self._message(
            "edited_message",
            chat_id,
            content,
            user_id=user_id,
            username=username,
            chat_type=chat_type,
            message_id=message_id,
        )

    def send_photo(
        self,
        chat_id: int,
        *,
        content: bytes = _PNG_BYTES,
        caption: str | None = None,
        user_id: int | None = None,
        chat_type: ChatType = "private",
    ) -> int:
        """A photo, in the two sizes Telegram sends; the largest downloads as ``content``."""
        small = self._store_file("photos", ".jpg", content[: max(1, len(content) // 4)])
        large = self._store_file("photos", ".jpg", content)
        sizes = [
            {**_file_fields(small), "width": 320, "height": 240},
            {**_file_fields(large), "width": 1280, "height": 960},
        ]
        return self._media(chat_id, {"photo": sizes}, caption, user_id, chat_type)

    def send_sticker(
        self,
        chat_id: int,
        *,
        emoji: str = "👍",
        user_id: int | None = None,
        chat_type: ChatType = "private",
    ) -> int:
        stored = self._store_file("stickers", ".webp", b"RIFF fake webp")
        sticker = {
            **_file_fields(stored),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._media(chat_id, {"sticker": sticker}, None, user_id, chat_type)

    def send_voice(
        self,
        chat_id: int,
        *,
        content: bytes = _OGG_BYTES,
        duration: int = 3,
        user_id: int | None = None,
        chat_type: ChatType = "private",
    ) -> int:
        stored = self._store_file("voice", ".oga", content)
        voice = {**_file_fields(stored), "duration": duration, "mime_type": "audio/ogg"}
        return self._media(chat_id, {"voice": voice}, None, user_id, chat_type)

    def send_document(
        self,
        chat_id: int,
        file_name: str,
        content: bytes,
        *,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        user_id: int | None = None,
        chat_type: ChatType = "private",
    ) -> int:
        """A document whose bytes the bot can fetch with getFile and the file URL."""
        suffix = "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        stored = self._store_file("documents", suffix, content)
        document = {**_file_fields(stored), "file_name": file_name, "mime_type": mime_type}
        return self._media(chat_id, {"document": document}, caption, user_id, chat_type)

    def send_callback_query(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
        chat_type: ChatType = "private",
    ) -> int:
        """A press on an inline button under the bot's message ``message_id`` (default: its
        latest message in the chat)."""
        with self.lock:
            user = self._user(chat_id, chat_type, user_id, "alice", "Alice")
            message = (
                self.messages.get((chat_id, message_id))
                if message_id is not None
                else self._last_bot_message(chat_id, chat_type, user)
            )
        query = {
            "id": str(time.monotonic_ns()),
            "from": user,
            "chat_instance": f"ci{chat_id}",
            "data": data,
        }
        if message is not None:
            query["message"] = message
        return self.enqueue({"callback_query": query})

    def send_update(self, update: dict[str, Any]) -> int:
        """Queue any update body (``update_id`` is added); for shapes no helper covers."""
        return self.enqueue(update)

    # ----- building blocks -----------------------------------------------------------

    def _media(
        self,
        chat_id: int,
        content: dict[str, Any],
        caption: str | None,
        user_id: int | None,
        chat_type: ChatType,
    ) -> int:
        if caption is not None:
            content["caption"] = caption
            found = text_entities(caption)
            if found:
                content["caption_entities"] = found
        return self._message("message", chat_id, content, user_id=user_id, chat_type=chat_type)

    def _message(
        self,
        kind: str,
        chat_id: int,
        content: dict[str, Any],
        *,
        user_id: int | None,
        username: str | None = "alice",
        first_name: str = "Alice",
        chat_type: ChatType = "private",
        message_thread_id: int | None = None,
        reply_to_bot: bool = False,
        message_id: int | None = None,
    ) -> int:
        with self.lock:
            user = self._user(chat_id, chat_type, user_id, username, first_name)
            is_forum = chat_type == "supergroup" and message_thread_id is not None
            chat = chat_json(chat_id, chat_type, user=user, is_forum=is_forum)
            self.chats[chat_id] = chat
            # The message replied to is older, so it gets its id first.
            replied = self._last_bot_message(chat_id, chat_type, user) if reply_to_bot else None
            message: dict[str, Any] = {
                "message_id": message_id or self.next_message_id(chat_id),
                "from": user,
                "chat": chat,
                "date": int(time.time()),
                **content,
            }
            if message_thread_id is not None:
                message["message_thread_id"] = message_thread_id
                message["is_topic_message"] = is_forum
            if replied is not None:
                message["reply_to_message"] = replied
            self.messages[(chat_id, message["message_id"])] = message
        return self.enqueue({kind: message})

    def _user(
        self,
        chat_id: int,
        chat_type: ChatType,
        user_id: int | None,
        username: str | None,
        first_name: str,
    ) -> dict[str, Any]:
        """In a private chat the chat id *is* the user id, as on Telegram."""
        if user_id is None:
            user_id = chat_id if chat_type == "private" else _GROUP_USER_ID
        return user_json(user_id, first_name=first_name, username=username)

    def _last_bot_message(
        self, chat_id: int, chat_type: ChatType, user: dict[str, Any]
    ) -> dict[str, Any]:
        """The bot's latest message in the chat, or a stand-in one if it never wrote."""
        with self.lock:
            for (chat, _), message in reversed(self.messages.items()):
                if chat == chat_id and message["from"]["id"] == self.bot_id:
                    return message
            message_id = self.next_message_id(chat_id)
            message = {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": self.chats.get(chat_id) or chat_json(chat_id, chat_type, user=user),
                "date": int(time.time()),
                "text": "(an earlier message from the bot)",
            }
            self.messages[(chat_id, message_id)] = message
            return message

    def _store_file(self, folder: str, suffix: str, content: bytes) -> StoredFile:
        number = self.new_file_id()
        stored = StoredFile(
            file_id=f"FAKE{folder.upper()}{number:06d}AgADfileid",
            file_unique_id=f"U{number:06d}",
            file_path=f"{folder}/file_{number}{suffix}",
            content=content,
        )
        with self.lock:
            self.files[stored.file_id] = stored
        return stored


def _file_fields(stored: StoredFile) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.content),
    }
