"""Roost: a sovereign, always-on AI agent runtime."""

__version__ = "0.1.0"
