"""The web control page: `/` on the gateway's port, plain HTML/CSS/JS (docs/control.md).

The page and its files are public (they hold no secret); everything they do goes
through the token-protected WebSocket API, which the page signs in to with the
``roost.bearer.*`` subprotocol (``roost.gateway.auth``).

- ``assets``: the files in ``static/``, read once, with their headers;
- ``feature``: the public routes for ``/`` and each file, as a ``Feature``.
"""

__all__ = ["assets", "feature"]
