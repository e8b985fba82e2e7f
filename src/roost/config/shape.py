"""Refuse parsed YAML too deep or too big to walk, before anything walks it recursively.

Kept free of heavy imports: the gateway client's quick config peek uses it too.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 64
"""Deeper than any real configuration (which nests about five levels)."""
MAX_VALUES = 200_000
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep; this cannot be a Roost configuration"


def check_shape(raw: Any) -> str | None:
    """Why ``raw`` is too deep or too big to walk, if it is (walked without recursion).

    Everything after parsing (``${VAR}`` substitution, validation) recurses per level,
    and YAML aliases can make a small file expand into a huge or cyclic structure.
    """
    pending: list[tuple[Any, int]] = [(raw, 0)]
    seen = 0
    while pending:
        node, depth = pending.pop()
        seen += 1
        if depth > MAX_DEPTH:
            return TOO_DEEP
        if seen > MAX_VALUES:
            return f"holds more than {MAX_VALUES} values (YAML aliases expanding?)"
        if isinstance(node, dict):
            pending.extend((item, depth + 1) for item in node.values())
        elif isinstance(node, list):
            pending.extend((item, depth + 1) for item in node)
    return None
