"""A config file's fingerprint: what `roost run` records in ``gateway.json`` so another
command can tell that the file changed since the running process loaded it.

Standard library only: `roost ask` through a gateway computes it too, and must stay light.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def config_digest(path: Path) -> str | None:
    """SHA-256 of the file's bytes (hex), or None if it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
