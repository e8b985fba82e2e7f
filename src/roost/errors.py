"""Errors the core and the features share (here, so a feature never imports the App)."""

from __future__ import annotations


class StartupError(Exception):
    """Something the configuration asks for cannot be set up; the message names the key."""


class UnknownAgent(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown agent '{name}' (known: {', '.join(known) or 'none'})")
