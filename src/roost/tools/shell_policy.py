"""Which shell commands an agent may run without asking: the allowlist and its patterns.

The matching rule (docs/tools.md, "Patterns"), chosen so a pattern can never approve
more than one plain command:

1. A command containing any shell metacharacter — ``; | & $ ` ( ) < >``, a backslash,
   a newline or carriage return — matches **no** pattern. ``echo *`` therefore never
   approves ``echo hi; rm -rf ~``, ``echo $(rm -rf ~)`` or ``echo hi > ~/.bashrc``; such
   a command is refused (``allowlist``) or asked about (``ask``).
2. Otherwise the command and the pattern are split into words on whitespace. A
   pattern's last word ``*`` matches any number of further words (zero included), so
   ``ls *`` matches ``ls`` and ``ls -la src``. Every other pattern word matches exactly
   one command word, with ``*`` and ``?`` inside a word matching within that word only
   (``git log*`` matches ``git log`` and ``git logx``, not ``git log -p``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from roost.config.shell import METACHARACTERS, has_metacharacters

__all__ = ["METACHARACTERS", "Verdict", "allowed_by", "judge", "matches", "pattern_for"]

ShellMode = Literal["deny", "allowlist", "ask", "full"]

_WORDS = re.compile(r"\S+")


def words(text: str) -> list[str]:
    return _WORDS.findall(text)


def matches(command: str, pattern: str) -> bool:
    """Whether ``pattern`` approves ``command`` (rules in the module's docstring)."""
    if has_metacharacters(command):
        return False
    given, wanted = words(command), words(pattern)
    if not wanted:
        return False
    if wanted[-1] == "*":
        wanted = wanted[:-1]
        if len(given) < len(wanted):
            return False
        given = given[: len(wanted)]
    if len(given) != len(wanted):
        return False
    return all(fnmatchcase(word, want) for word, want in zip(given, wanted, strict=True))


def allowed_by(command: str, patterns: Iterable[str]) -> str | None:
    """The first pattern that approves ``command``, or None."""
    for pattern in patterns:
        if matches(command, pattern):
            return pattern
    return None


def pattern_for(command: str) -> str | None:
    """What "Always" adds for ``command``: the command itself (its words, one space
    apart), so exactly it runs without asking next time. None for a command no
    pattern can match (one with metacharacters): it is always asked about."""
    if has_metacharacters(command) or not words(command):
        return None
    return " ".join(words(command))


@dataclass(frozen=True)
class Verdict:
    """What the policy says of one command: ``run``, ``refuse`` or ``ask``."""

    action: Literal["run", "refuse", "ask"]
    reason: str


def judge(mode: ShellMode, command: str, patterns: Iterable[str]) -> Verdict:
    if mode == "deny":
        return Verdict("refuse", "the shell is disabled for this agent (shell.mode: deny)")
    if mode == "full":
        return Verdict("run", "shell.mode: full")
    pattern = allowed_by(command, patterns)
    if pattern is not None:
        return Verdict("run", f"allowed by {pattern!r}")
    if mode == "ask":
        return Verdict("ask", "not on the allowlist")
    why = (
        "it contains a shell metacharacter (; | & $ ` ( ) < > \\ or a newline), which no "
        "pattern matches"
        if has_metacharacters(command)
        else "it matches no pattern in shell.allow"
    )
    return Verdict("refuse", f"command refused: {why} (shell.mode: allowlist)")
