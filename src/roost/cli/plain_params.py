"""Typer's parameter coercion for plain str, bool, Path and number values, without pydantic.

Typer (0.29) coerces each command-line value through a pydantic ``TypeAdapter`` it
builds on first use; importing pydantic and building the adapters costs ~60 ms, a
quarter of `roost ask` through a running gateway, which otherwise never loads
pydantic. For the values Roost's commands take — a ``str`` that click already
parsed as ``str``, a ``bool`` flag, a ``Path``, a number written plainly (``10``,
``2.5``; `roost run --grace`) — the result is known without it:
this gives those parameters a coercion that returns exactly what typer's would
(paths still go through typer's own `coerce_cli_path` checks) and hands anything
else to typer's own. If typer's internals change, `use_plain_coercion` does nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

_PLAIN_INT = re.compile(r"[+-]?\d{1,18}")
_PLAIN_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
"""Numbers Python's int()/float() and pydantic read alike; anything else goes to typer."""


def use_plain_coercion(params: Iterable[object]) -> None:
    """Give each plain str/bool/Path parameter the pydantic-free coercion."""
    plain = _plain_class()
    if plain is None:
        return
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if getattr(param, "_runtime_param", True) is not None or descriptor is None:
            continue
        if getattr(descriptor, "file_annotation", None) is not None:
            continue
        if descriptor.annotation in (int, float) and getattr(descriptor, "is_ranged", True):
            continue  # min/max checks: typer's own coercion
        if descriptor.annotation in (str, bool, Path, int, float):
            param._runtime_param = plain(  # type: ignore[attr-defined]
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
            )


@cache
def _plain_class() -> type[Any] | None:
    try:
        from typer._coercion import RuntimeParam, build_runtime_param
        from typer._param_types import coerce_cli_path
    except ImportError:
        return None

    class PlainRuntimeParam(RuntimeParam):
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            annotation = self.annotation
            if annotation is str and isinstance(value, str):
                return value
            if annotation is bool and isinstance(value, bool):
                return value
            number = _plain_number(annotation, value)
            if number is not None:
                return number
            if annotation is Path and isinstance(value, str | Path):
                path_type = self.parameter_info.path_type or Path
                if path_type is Path:
                    return coerce_cli_path(
                        Path(value), self.parameter_info, path_type=Path, param=param, ctx=ctx
                    )
            # Anything else: typer's own coercion, exactly as without this module.
            typer_own = build_runtime_param(param.type_descriptor)
            param._runtime_param = typer_own
            return typer_own._coerce_value(value, param=param, ctx=ctx)

    return PlainRuntimeParam


def plain_float(text: str) -> float | None:
    """``text`` as a float if it is written plainly (as Python and pydantic read it alike)."""
    return float(text) if _PLAIN_FLOAT.fullmatch(text) else None


def _plain_number(annotation: Any, value: Any) -> int | float | None:
    """``value`` as pydantic would coerce it to ``annotation`` (int or float), if plain."""
    if isinstance(value, bool):
        return None
    if annotation is float:
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str) and _PLAIN_FLOAT.fullmatch(value):
            return float(value)
    if annotation is int:
        if isinstance(value, int):
            return value
        if isinstance(value, str) and _PLAIN_INT.fullmatch(value):
            return int(value)
    return None
