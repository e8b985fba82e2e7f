"""The keys the schema allows at a place in the file, for "did you mean" hints."""

from __future__ import annotations

import difflib
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

HELP_POINTER = "`roost help config` lists every key"


def unknown_key_message(root: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """``unknown key; did you mean 'tools'?`` for the key at ``loc`` below ``root``."""
    key = str(loc[-1]) if loc else ""
    allowed = allowed_keys(root, loc[:-1])
    close = difflib.get_close_matches(key, allowed, n=1) if allowed else []
    if close:
        return f"unknown key; did you mean '{close[0]}'? ({HELP_POINTER})"
    if allowed:
        return f"unknown key (allowed here: {', '.join(allowed)}; see `roost help config`)"
    return f"unknown key ({HELP_POINTER})"


def allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model at ``loc`` (an error location), or [] if unknown."""
    node: Any = root
    for part in loc:
        node = _step(_unwrap(node), part)
        if node is None:
            return []
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [field.alias or name for name, field in node.model_fields.items()]
    return []


def _step(node: Any, part: Any) -> Any:
    if isinstance(node, type) and issubclass(node, BaseModel):
        field = node.model_fields.get(str(part))
        return field.annotation if field is not None else None
    origin, args = get_origin(node), get_args(node)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin is list and args:
        return args[0]
    return None


def _unwrap(node: Any) -> Any:
    """``X | None`` → ``X``: the schema's optional sections are models or nothing."""
    if get_origin(node) in (Union, types.UnionType):
        choices = [arg for arg in get_args(node) if arg is not type(None)]
        if len(choices) == 1:
            return choices[0]
    return node
