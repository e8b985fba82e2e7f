"""A fake Telegram Bot API server for tests and benchmarks.

A real HTTP server on loopback (Starlette served by uvicorn in a background
thread with its own event loop), so python-telegram-bot talks to it exactly as to
api.telegram.org: ``{"ok": true, "result": ...}`` answers, Telegram's error texts
and status codes, long polling that wakes as soon as a test injects an update.

Typical use::

    with running_fake_telegram() as tg:
        bot = telegram.Bot(tg.token, base_url=tg.bot_base_url, base_file_url=tg.file_base_url)
        tg.send_text(42, "/start")            # a user writes; returns the update_id
        tg.fail_next("sendMessage", 429, retry_after=0.01)
        tg.reject_html_next()                 # next formatted text: "can't parse entities"
        ...
        sent = tg.wait_for_sent(1)            # or: await tg.wait_for_sent_async(1)
        assert sent[0].visible_text == "Hello"

Modules: ``state`` (memory, scripting, inspection, waits), ``records`` (what is
recorded), ``incoming`` (what users do), ``methods`` / ``polling`` / ``params`` (the
Bot API methods), ``html_entities`` (Telegram's HTML parser), ``objects`` (JSON
shapes), ``server`` (HTTP, start/stop, CLI).

Standalone (for benchmarks)::

    python -m tests.fakes.telegram --port 0 --token 123:ABC

prints the URL on the first stdout line and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

from tests.fakes.telegram.html_entities import HtmlParseError, ParsedText, parse_html
from tests.fakes.telegram.objects import ChatType, StoredFile
from tests.fakes.telegram.records import ApiError, ChatAction, RecordedCall, SentMessage
from tests.fakes.telegram.server import FakeTelegram, main, running_fake_telegram
from tests.fakes.telegram.state import DEFAULT_BOT_USERNAME, DEFAULT_TOKEN

__all__ = [
    "DEFAULT_BOT_USERNAME",
    "DEFAULT_TOKEN",
    "ApiError",
    "ChatAction",
    "ChatType",
    "FakeTelegram",
    "HtmlParseError",
    "ParsedText",
    "RecordedCall",
    "SentMessage",
    "StoredFile",
    "main",
    "parse_html",
    "running_fake_telegram",
]
