"""Telegram channel: Bot API polling or webhook in, formatted and chunked replies out.

- ``service``: the Service; ``bot``: the python-telegram-bot `Bot` it builds;
- ``polling``, ``webhook``: updates in; ``updates``: which were handled already (per
  bot, the offset and the recent ids);
  ``inbound``: an update becomes an envelope; ``documents``: files sent in a chat,
  saved into the workspace; ``context``: what the parts share;
- ``access``, ``chats``: who may talk (allowlist, pairing) and each chat's agent;
- ``commands``, ``reports``: the slash commands and what they report;
- ``delivery``: the outbox to Telegram; ``ratelimit``: Telegram's send limits kept
  before a 429; ``formatting``, ``chunking``: HTML and chunks;
  ``progress``, ``typing_indicator``: what a running turn shows;
- ``doctor``: the checks `roost doctor` runs.
"""

__all__ = [
    "access",
    "bot",
    "chats",
    "chunking",
    "commands",
    "context",
    "delivery",
    "doctor",
    "documents",
    "formatting",
    "inbound",
    "polling",
    "progress",
    "ratelimit",
    "reports",
    "service",
    "typing_indicator",
    "updates",
    "webhook",
]
