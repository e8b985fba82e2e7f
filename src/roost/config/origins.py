"""Web origins (``scheme://host[:port]``) as ``gateway.allowed_origins`` takes them.

Here rather than in the gateway so that the configuration checks its values without
importing a feature above it; the gateway compares request origins with the same function.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case; ``ValueError`` for anything else."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"{origin!r} is not an origin like http://localhost:5173") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{origin!r} is not an origin like http://localhost:5173")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{origin!r}: an origin is scheme://host[:port], with no path")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
