"""`roost doctor`'s Telegram checks: token, reachability, allowlist, webhook state.

Each check is ``(ok, text)``: True ✓, False ✗, None a warning. The token itself
never appears in a text.
"""

from __future__ import annotations

import asyncio

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from roost.channels.telegram.access import owners
from roost.channels.telegram.bot import describe, sending_bot
from roost.config.schema import TelegramConfig

TIMEOUT_S = 10.0

Result = tuple[bool | None, str]


async def telegram_checks(config: TelegramConfig | None) -> list[Result]:
    if config is None:
        return [(None, "telegram: not configured (no telegram: section)")]
    results = [_allowlist(config)]
    handle = sending_bot(config)
    token = config.token.get_secret_value()
    try:
        me = await asyncio.wait_for(handle.bot.get_me(), TIMEOUT_S)
    except InvalidToken as exc:
        results.insert(0, (True, f"telegram: Bot API reachable at {config.api_base_url}"))
        results.insert(1, (False, f"telegram.token: refused by Telegram ({describe(exc, token)})"))
        return results
    except (TelegramError, OSError, TimeoutError) as exc:
        error = describe(exc, token) if str(exc) else "no answer in time"
        results.insert(0, (False, f"telegram: cannot reach {config.api_base_url} ({error})"))
        return results
    else:
        results.insert(0, (True, f"telegram: Bot API reachable at {config.api_base_url}"))
        results.insert(1, (True, f"telegram.token: valid, the bot is @{me.username}"))
        results.append(await _webhook(handle.bot, config, token))
    finally:
        await handle.close()
    return results


def _allowlist(config: TelegramConfig) -> Result:
    ids, names = owners(config)
    if not ids and not names:
        return (False, "telegram.allowed_users is empty: nobody can talk to the bot")
    count = len(ids) + len(names)
    allowed = config.groups.allowed
    groups = f", {len(allowed)} group(s)" if allowed else ""
    return (True, f"telegram.allowed_users: {count} user(s){groups}")


async def _webhook(bot: Bot, config: TelegramConfig, token: str) -> Result:
    try:
        info = await asyncio.wait_for(bot.get_webhook_info(), TIMEOUT_S)
    except (TelegramError, OSError, TimeoutError) as exc:
        return (None, f"telegram: could not read the webhook state ({describe(exc, token)})")
    wanted = config.webhook
    if wanted is None:
        if info.url:
            return (None, f"telegram: a webhook is set ({info.url}); `roost run` removes it")
        return (True, f"telegram: long polling ({info.pending_update_count} update(s) waiting)")
    if info.url != wanted.url:
        return (
            None,
            f"telegram: webhook is {info.url or 'not set'}; `roost run` sets {wanted.url}",
        )
    if info.last_error_message:
        return (False, f"telegram: webhook {info.url} last failed: {info.last_error_message}")
    return (True, f"telegram: webhook {info.url}")
