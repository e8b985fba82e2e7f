"""Channels: the outside services people talk to Roost through (Telegram).

A feature over the core: a channel turns outside input into envelopes for the router
and delivers the outbox's replies. ``telegram``: the Telegram Bot API channel.
"""

__all__ = [
    "telegram",
]
