"""Numbers written plainly, as `roost.cli.main` reads them without typer (``run --grace``)."""

from __future__ import annotations

import re

_PLAIN_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
"""Numbers every reader takes alike; anything else (``inf``, ``1_000``, ...) goes to typer."""


def plain_float(text: str) -> float | None:
    """``text`` as a float if it is written plainly, else None (typer decides)."""
    return float(text) if _PLAIN_FLOAT.fullmatch(text) else None
