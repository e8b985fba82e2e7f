"""The OpenAI-compatible API: any OpenAI client talks to Roost's agents (a feature).

Modules (imported on use, not by this package):

- ``service``: ``OpenAIFeature``, the feature: its routes, served by the gateway
- ``api``: the ``/v1/models`` and ``/v1/chat/completions`` handlers, errors in OpenAI's shape
- ``wire``: OpenAI's request and reply shapes (completion, ``chat.completion.chunk``)
- ``sessions``: which Roost session a resent conversation continues
- ``turns``: a request's turn through the inbox, waited for or streamed (SSE)
"""

__all__ = ["api", "service", "sessions", "turns", "wire"]
