"""Model providers: one interface, and the Anthropic and OpenAI-compatible backends.

They know nothing of the store, tools or ledger (a contract in ``pyproject.toml``).

- ``base``: the `Provider` protocol and the neutral types (`Message`, `ToolCall`, `Usage`);
- ``factory``: the backend for one ``providers:`` entry, importing no SDK until needed;
- ``anthropic_backend``, ``openai_backend``: the two backends, each only its wire
  format; ``streaming``: the streamed call they share; ``sdk_support``: identity and
  safe error messages.
"""

__all__ = [
    "anthropic_backend",
    "base",
    "factory",
    "openai_backend",
    "sdk_support",
    "streaming",
]
