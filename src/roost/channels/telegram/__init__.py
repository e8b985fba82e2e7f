"""Telegram channel: Bot API polling, Markdown-to-HTML formatting, message chunking."""
