"""``${VAR}`` substitution from the environment.

Substitution runs on parsed YAML values, not on the raw text, so a secret
containing quotes or colons can never change the file's structure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# One pattern, three cases: ``$${`` (a literal ``${``), a well-formed reference, and
# any other ``${`` — which is a mistake (``${UNCLOSED``, ``${1X}``) rather than text.
_REFERENCE = re.compile(
    r"(?P<escape>\$\$\{)"
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}"
    r"|(?P<bad>\$\{)"
)
SYNTAX_HELP = "write ${NAME} or ${NAME:-fallback}, or $${ for a literal ${"

Sources = dict[str, list[str]]
"""Key path → the environment variables whose values were put into it."""


def substitute(
    value: Any, env: Mapping[str, str], path: str = "", sources: Sources | None = None
) -> tuple[Any, list[str]]:
    """Return ``value`` with ``${VAR}`` / ``${VAR:-default}`` replaced, plus problems found.

    A problem names the key path and the variable, never a value. ``sources``, when
    given, records which key paths received a value from the environment, so errors
    about those keys can avoid echoing it.
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
        shown = where or "(top level)"

        def one(match: re.Match[str]) -> str:
            if match.group("escape"):
                return "${"
            if match.group("bad"):
                problems.append(f"{shown}: malformed ${{...}} reference ({SYNTAX_HELP})")
                return ""
            name, default = match.group("name"), match.group("default")
            if name in env:
                if sources is not None:
                    sources.setdefault(where, []).append(name)
                return env[name]
            if default is not None:
                return default
            problems.append(f"{shown}: environment variable {name} is not set")
            return ""

        return _REFERENCE.sub(one, text)

    return walk(value, path), problems


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
