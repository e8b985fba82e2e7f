"""python-telegram-bot's low-level ``Bot``, set up the way Roost uses it.

Two bots share the token: one sends (a pool of connections, for replies, typing
and commands), the other only polls (one connection, one ``getUpdates`` in
flight). A stalled poll is abandoned by replacing the polling bot, which never
touches the sending one.

The token is part of every Bot API URL, so it could reach a log line through an
HTTP library's debug output or an exception's text; ``redact`` and the log filter
installed by ``hide_token_in_logs`` replace it with ``<token>``.
"""

from __future__ import annotations

import datetime as dtm
import logging
import warnings
from dataclasses import dataclass

from telegram import Bot
from telegram.error import RetryAfter, TelegramError
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from roost.config.schema import TelegramConfig

SEND_POOL = 16
SEND_READ_TIMEOUT_S = 20.0
POLL_EXTRA_READ_TIMEOUT_S = 20.0
"""Added by PTB to the long poll's ``timeout``; the service's own stall check fires first."""

# PTB 22 warns on its own RetryAfter construction that `retry_after` will become a
# timedelta; ``retry_after_s`` reads either form.
warnings.filterwarnings("ignore", "(?s).*attribute `retry_after`", PTBDeprecationWarning)

_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "telegram.Bot",
    "telegram.request",
)


@dataclass
class BotHandle:
    """A Bot and the request objects it owns (closed by ``close``)."""

    bot: Bot
    requests: tuple[HTTPXRequest, ...]

    async def close(self) -> None:
        for request in self.requests:
            try:
                await request.shutdown()
            except Exception:  # closing a broken connection must not stop a shutdown
                logging.getLogger(__name__).debug("closing a Telegram connection failed")


def _bot(config: TelegramConfig, request: HTTPXRequest) -> Bot:
    base = config.api_base_url.rstrip("/")
    token = config.token.get_secret_value()
    hide_token_in_logs(token)  # PTB logs the URLs, token included, as it builds the Bot
    return Bot(
        token,
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=request,
        get_updates_request=request,
    )


def sending_bot(config: TelegramConfig) -> BotHandle:
    request = HTTPXRequest(
        connection_pool_size=SEND_POOL,
        read_timeout=SEND_READ_TIMEOUT_S,
        connect_timeout=10.0,
        pool_timeout=10.0,
    )
    return BotHandle(_bot(config, request), (request,))


def polling_bot(config: TelegramConfig) -> BotHandle:
    request = HTTPXRequest(
        connection_pool_size=1,
        read_timeout=POLL_EXTRA_READ_TIMEOUT_S,
        connect_timeout=10.0,
        pool_timeout=5.0,
    )
    return BotHandle(_bot(config, request), (request,))


def retry_after_s(error: RetryAfter) -> float:
    """Seconds Telegram asked us to wait (PTB's int-or-timedelta, without its warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    if isinstance(value, dtm.timedelta):
        return max(value.total_seconds(), 0.0)
    return max(float(value), 0.0)


def describe(error: BaseException, token: str) -> str:
    """A short, token-free description of a Bot API failure, for logs and health."""
    if isinstance(error, TelegramError):
        text = f"{type(error).__name__}: {error.message}"
    else:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return redact(text, token)


def redact(text: str, token: str) -> str:
    return text.replace(token, "<token>") if token else text


class _RedactToken(logging.Filter):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = redact(message, self.token), None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            if self.token in text:
                record.exc_text = redact(text, self.token)
        return True


def hide_token_in_logs(token: str) -> None:
    """Make the loggers and handlers that could see a Bot API URL print ``<token>``."""
    if not token:
        return
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in _LOGGERS]
    targets += logging.getLogger("roost").handlers + logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, _RedactToken) and f.token == token for f in target.filters):
            target.addFilter(_RedactToken(token))
