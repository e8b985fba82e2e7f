"""Keep values that came from the environment out of configuration errors.

A ``${VAR}`` is usually a secret. When it lands in a key that is not a secret field
(``model: ${ANTHROPIC_API_KEY}`` by mistake), a validation message would quote it;
these helpers take it out again and say where the value came from instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from roost.config.environment import Sources

HIDDEN = "(value hidden)"
_QUOTED = re.compile(r"'([^']*)'")
_MIN_SCRUB = 4
"""Shorter values are scrubbed only from the keys they were put in: replacing ``on``
everywhere would garble every message without protecting anything worth a secret."""


def redact(problems: list[str], sources: Sources, env: Mapping[str, str]) -> list[str]:
    """``problems`` with no value from the environment left in them."""
    if not sources:
        return problems
    everywhere = sorted(
        {env[name] for names in sources.values() for name in names if len(env[name]) >= _MIN_SCRUB},
        key=len,
        reverse=True,
    )
    return [_redact_one(problem, sources, env, everywhere) for problem in problems]


def _redact_one(
    problem: str, sources: Sources, env: Mapping[str, str], everywhere: list[str]
) -> str:
    where, separator, detail = problem.partition(": ")
    names = _names_at(where, sources)
    if names:
        values = [env[name] for name in names if env[name]]
        detail = _QUOTED.sub(
            lambda match: HIDDEN if _is_part(match.group(1), values) else match.group(0), detail
        )
        for value in values:
            detail = detail.replace(value, HIDDEN)
        references = ", ".join(f"${{{name}}}" for name in names)
        detail += f" (the value comes from {references} and is not shown)"
    for value in everywhere:
        detail = detail.replace(value, HIDDEN)
    return where + separator + detail


def _names_at(where: str, sources: Sources) -> list[str]:
    """Variables substituted into ``where`` or into any key inside it."""
    found: list[str] = []
    for path, names in sources.items():
        if where == path or where.startswith((f"{path}.", f"{path}[")):
            found.extend(name for name in names if name not in found)
    return found


def _is_part(quoted: str, values: list[str]) -> bool:
    return bool(quoted) and any(quoted in value for value in values)
