"""Build the backend for one ``providers:`` entry. Imports no SDK."""

from __future__ import annotations

from roost.config.schema import ProviderConfig
from roost.providers.anthropic_backend import AnthropicProvider
from roost.providers.base import Provider
from roost.providers.openai_backend import OpenAIProvider

__all__ = ["create_provider"]


def create_provider(name: str, config: ProviderConfig) -> Provider:
    """Return the backend for ``config.type`` (``anthropic`` or ``openai``)."""
    if config.type == "anthropic":
        return AnthropicProvider(name, config)
    if config.type == "openai":
        return OpenAIProvider(name, config)
    raise ValueError(f"provider '{name}': unknown type {config.type!r}")
