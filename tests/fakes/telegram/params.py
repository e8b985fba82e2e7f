"""Reading Bot API parameters, and validating message texts as Telegram does.

Parameters arrive as strings when sent as a form (python-telegram-bot JSON-encodes
every non-string value) or as JSON values; these helpers accept both.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.telegram.html_entities import (
    HtmlParseError,
    ParsedText,
    parse_html,
    strip_whitespace,
)
from tests.fakes.telegram.records import ApiError

MAX_TEXT_LENGTH = 4096
"""Counted in characters (code points) after entity parsing, as Telegram does."""

REJECTED_ENTITIES = (
    "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""
)


def parse_message_text(params: dict[str, Any], *, reject: bool = False) -> ParsedText:
    """The text as Telegram would store it; ``reject`` forces a parse error for a
    formatted text (the fake's ``reject_html_next``)."""
    text = params.get("text")
    if not isinstance(text, str) or not text:
        raise ApiError(400, "Bad Request: message text is empty")
    mode = str(params.get("parse_mode") or "").lower()
    if mode and reject:
        raise ApiError(400, REJECTED_ENTITIES)
    if mode == "html":
        try:
            parsed = parse_html(text)
        except HtmlParseError as error:
            raise ApiError(400, error.description) from None
    elif mode in ("markdown", "markdownv2"):
        parsed = ParsedText(text)  # not validated: the product sends HTML
    elif not mode:
        entities = json_param(params, "entities")
        parsed = ParsedText(text, entities if isinstance(entities, list) else [])
    else:
        raise ApiError(400, "Bad Request: unsupported parse_mode")
    parsed = strip_whitespace(parsed)
    if not parsed.text:
        raise ApiError(400, "Bad Request: message text is empty")
    if len(parsed.text) > MAX_TEXT_LENGTH:
        raise ApiError(400, "Bad Request: message is too long")
    return parsed


def json_param(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
    return value


def int_param(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def float_param(params: dict[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def bool_param(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    return value is True or str(value).lower() in ("true", "1")


def chat_id_param(params: dict[str, Any]) -> int | str:
    """A numeric chat id as an int; a ``@channelusername`` stays a string."""
    value = params.get("chat_id")
    if value is None or value == "":
        raise ApiError(400, "Bad Request: chat_id is empty")
    if isinstance(value, int) or str(value).lstrip("-").isdigit():
        return int(value)
    return str(value)
