"""The Bot API methods the fake implements, with Telegram's validation and error texts."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.telegram.html_entities import ParsedText
from tests.fakes.telegram.objects import chat_full_info
from tests.fakes.telegram.params import (
    bool_param,
    chat_id_param,
    int_param,
    json_param,
    parse_message_text,
)
from tests.fakes.telegram.polling import Polling
from tests.fakes.telegram.records import ApiError, ChatAction, SentMessage
from tests.fakes.telegram.state import TelegramState

_OWN_METHODS = (
    "getMe sendMessage editMessageText deleteMessage sendChatAction setMyCommands "
    "getMyCommands deleteMyCommands getFile answerCallbackQuery getChat"
)
_CHAT_ACTIONS_TEXT = (
    "typing upload_photo record_video upload_video record_voice upload_voice "
    "upload_document choose_sticker find_location record_video_note upload_video_note"
)
_CHAT_ACTIONS = frozenset(_CHAT_ACTIONS_TEXT.split())
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "of the specified message are exactly the same as a current content and reply markup "
    "of the message"
)

Handler = Callable[[dict[str, Any]], Any]


class BotApi:
    """Answers Bot API calls from a :class:`TelegramState`; unknown methods are 404."""

    def __init__(self, state: TelegramState, current_change: Callable[[], asyncio.Event]):
        self.state = state
        polling = Polling(state, current_change)
        # Telegram's method names are case-insensitive.
        self._handlers: dict[str, Handler] = {
            "getupdates": polling.get_updates,
            "deletewebhook": polling.delete_webhook,
            "setwebhook": polling.set_webhook,
            "getwebhookinfo": polling.get_webhook_info,
        }
        for name in _OWN_METHODS.split():
            self._handlers[name.lower()] = getattr(self, _snake(name))

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        handler = self._handlers.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found")
        result = handler(params)
        if inspect.isawaitable(result):
            result = await result
        return result

    def get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.state.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        chat_id = chat_id_param(params)
        parsed = self._parse_text(params)
        thread_id = int_param(params, "message_thread_id")
        reply_to = self._reply_target(chat_id, params)
        markup = inline_keyboard(params)
        with state.lock:
            chat = state.chat_for(chat_id)
            if chat is None:
                raise ApiError(400, "Bad Request: chat not found")
            message: dict[str, Any] = {
                "message_id": state.next_message_id(chat_id),
                "from": state.bot_user,
                "chat": chat,
                "date": int(time.time()),
                "text": parsed.text,
            }
            if parsed.entities:
                message["entities"] = parsed.entities
            if thread_id is not None:
                message["message_thread_id"] = thread_id
                message["is_topic_message"] = bool(chat.get("is_forum"))
            if reply_to is not None:
                message["reply_to_message"] = reply_to
            if markup is not None:
                message["reply_markup"] = markup
            state.messages[(chat_id, message["message_id"])] = message
            state.record_sent(
                SentMessage(
                    method="sendMessage",
                    chat_id=chat_id,
                    text=str(params["text"]),
                    parse_mode=params.get("parse_mode") or None,
                    message_id=message["message_id"],
                    at=time.monotonic(),
                    visible_text=parsed.text,
                    message_thread_id=thread_id,
                    reply_to_message_id=reply_to["message_id"] if reply_to else None,
                    buttons=_buttons(markup),
                )
            )
            return message

    def edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: the fake does not support inline messages")
        chat_id, message_id = chat_id_param(params), int_param(params, "message_id")
        with state.lock:
            stored = state.messages.get((chat_id, message_id or 0))
        if stored is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if stored["from"]["id"] != state.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        parsed = self._parse_text(params)
        markup = inline_keyboard(params)
        with state.lock:
            if (
                parsed.text == stored.get("text")
                and parsed.entities == stored.get("entities", [])
                and markup == stored.get("reply_markup")
            ):
                raise ApiError(400, _NOT_MODIFIED)
            edited = {**stored, "text": parsed.text, "edit_date": int(time.time())}
            edited.pop("entities", None)
            edited.pop("reply_markup", None)  # as Telegram: an edit without one removes it
            if markup is not None:
                edited["reply_markup"] = markup
            if parsed.entities:
                edited["entities"] = parsed.entities
            state.messages[(chat_id, stored["message_id"])] = edited
            state.record_sent(
                SentMessage(
                    method="editMessageText",
                    chat_id=chat_id,
                    text=str(params["text"]),
                    parse_mode=params.get("parse_mode") or None,
                    message_id=stored["message_id"],
                    at=time.monotonic(),
                    visible_text=parsed.text,
                    message_thread_id=stored.get("message_thread_id"),
                    buttons=_buttons(markup),
                )
            )
            return edited

    def delete_message(self, params: dict[str, Any]) -> bool:
        key = (chat_id_param(params), int_param(params, "message_id") or 0)
        with self.state.lock:
            if self.state.messages.pop(key, None) is None:
                raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def send_chat_action(self, params: dict[str, Any]) -> bool:
        action = str(params.get("action") or "")
        if action not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        chat_id = chat_id_param(params)
        thread_id = int_param(params, "message_thread_id")
        self.state.record_chat_action(ChatAction(chat_id, action, time.monotonic(), thread_id))
        return True

    def set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = json_param(params, "commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description is empty or too long")
        with self.state.lock:
            self.state.stored_commands[_commands_key(params)] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        return True

    def get_my_commands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        with self.state.lock:
            return list(self.state.stored_commands.get(_commands_key(params), []))

    def delete_my_commands(self, params: dict[str, Any]) -> bool:
        with self.state.lock:
            self.state.stored_commands.pop(_commands_key(params), None)
        return True

    def get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.state.lock:
            stored = self.state.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return stored.as_json()

    def answer_callback_query(self, params: dict[str, Any]) -> bool:
        if not params.get("callback_query_id"):
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        return True

    def get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = chat_id_param(params)
        with self.state.lock:
            chat = self.state.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat_full_info(chat)

    # ----- shared validation ---------------------------------------------------------

    def _parse_text(self, params: dict[str, Any]) -> ParsedText:
        reject = bool(params.get("parse_mode")) and self.state.take_html_rejection()
        return parse_message_text(params, reject=reject)

    def _reply_target(self, chat_id: int | str, params: dict[str, Any]) -> dict[str, Any] | None:
        reply = json_param(params, "reply_parameters")
        reply = reply if isinstance(reply, dict) else {}
        message_id = reply.get("message_id") or int_param(params, "reply_to_message_id")
        if not message_id:
            return None
        with self.state.lock:
            target = self.state.messages.get((chat_id, int(message_id)))
        lenient = reply.get("allow_sending_without_reply") or bool_param(
            params, "allow_sending_without_reply"
        )
        if target is None and not lenient:
            raise ApiError(400, "Bad Request: message to be replied not found")
        return target


def inline_keyboard(params: dict[str, Any]) -> dict[str, Any] | None:
    """A ``reply_markup`` inline keyboard, checked as Telegram checks it; None if absent."""
    markup = json_param(params, "reply_markup")
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in rows:
        for button in row:
            data = button.get("callback_data") if isinstance(button, dict) else None
            if not isinstance(button, dict) or not button.get("text"):
                raise ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return {"inline_keyboard": rows}


def _buttons(markup: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    if markup is None:
        return ()
    return tuple(
        (str(button["text"]), str(button.get("callback_data", "")))
        for row in markup["inline_keyboard"]
        for button in row
    )


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
    scope = json_param(params, "scope")
    scope = scope if isinstance(scope, dict) else {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")
