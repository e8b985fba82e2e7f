"""Channels: the ways replies reach people and clients (Telegram, WebSocket clients).

A feature over the core: a channel turns outside input into envelopes for the inbox
(``core.inbox.submit``) and delivers the outbox's replies. ``telegram``: the Telegram
Bot API channel; ``websocket``: deliveries to ``ws:<client>``, over the gateway's
connections (seen through a protocol: channels never import the gateway).
"""

__all__ = [
    "telegram",
    "websocket",
]
