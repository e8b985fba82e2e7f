"""``${VAR}`` substitution from the environment.

Substitution runs on parsed YAML values, not on the raw text, so a secret
containing quotes or colons can never change the file's structure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute(value: Any, env: Mapping[str, str], path: str = "") -> tuple[Any, list[str]]:
    """Return ``value`` with ``${VAR}`` / ``${VAR:-default}`` replaced, plus problems found.

    A problem names the key path and the variable, never a value.
    """
    problems: list[str] = []

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, str):
            return _replace(node, where)
        if isinstance(node, dict):
            return {key: walk(item, _join(where, str(key))) for key, item in node.items()}
        if isinstance(node, list):
            return [walk(item, f"{where}[{index}]") for index, item in enumerate(node)]
        return node

    def _replace(text: str, where: str) -> str:
        def one(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append(f"{where or '(top level)'}: environment variable {name} is not set")
            return ""

        return _REFERENCE.sub(one, text)

    return walk(value, path), problems


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
