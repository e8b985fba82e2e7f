"""The shell's configuration: per-agent policy (``agents.<n>.shell``) and the sandbox.

The pattern grammar is documented in docs/tools.md and ``roost.tools.shell_policy``
(which does the matching); here, what a pattern may look like at all.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

METACHARACTERS = frozenset(";|&$`()<>\\\n\r")
"""Characters that let one command line run, substitute or redirect another."""


def has_metacharacters(text: str) -> bool:
    return any(char in METACHARACTERS for char in text)


def normalize_pattern(pattern: str) -> str:
    """``pattern`` with its words one space apart; ValueError for one that can never
    match (empty, with a metacharacter) or would match any command (``*``)."""
    words = pattern.split()
    if not words:
        raise ValueError("a shell pattern must not be empty")
    if has_metacharacters(pattern):
        raise ValueError(
            f"shell pattern {pattern!r} contains a shell metacharacter (; | & $ ` ( ) < > \\); "
            "commands with those never match a pattern"
        )
    if words[0] == "*":
        raise ValueError(
            f"shell pattern {pattern!r} must start with a command name (for any command, "
            "use mode: full)"
        )
    return " ".join(words)


class ShellPolicyConfig(BaseModel):
    """``agents.<name>.shell``: what the agent's ``shell`` tool may run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["deny", "allowlist", "ask", "full"] = "ask"
    allow: tuple[str, ...] = ()
    """Patterns of commands that run without asking (docs/tools.md, "Patterns")."""
    network: bool = False
    """Whether sandboxed commands may use the network."""
    timeout_s: float = Field(default=60.0, gt=0, le=86_400)
    """A command's time limit when the model gives none."""
    max_timeout_s: float = Field(default=600.0, gt=0, le=86_400)
    """The most the model may ask for (its ``timeout_s`` is capped to this)."""

    @field_validator("allow")
    @classmethod
    def _patterns(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalize_pattern(value) for value in values)


class ShellConfig(BaseModel):
    """``shell``: settings shared by every agent's shell."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sandbox: Literal["auto", "off", "required"] = "auto"
    """``auto``: bwrap when it works here; ``required``: refuse commands without it."""
    sandbox_readable: tuple[str, ...] = ()
    """Directories in a home the sandbox hides that commands may still read (``~`` is
    the owner's home): a tool's files beyond its PATH directory, e.g. ``~/.pyenv``."""

    @field_validator("sandbox_readable")
    @classmethod
    def _absolute(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if value.rstrip("/") in ("~", ""):
                # The whole home (or /) would undo the sandbox's hiding: not a directory
                # "in" the home, and bwrap cannot bind back what it hides itself.
                raise ValueError(
                    f"{value!r}: name a directory inside the home (~/.pyenv), not all of it; "
                    "shell.sandbox: off runs commands without the sandbox"
                )
            if not value.startswith(("/", "~/")):
                raise ValueError(f"{value!r}: write an absolute path or one starting with ~/")
        return values

    @field_validator("sandbox", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML reads a bare ``off`` as false: take it as meant.
        return "off" if value is False else value


class ApprovalsConfig(BaseModel):
    """``approvals``: how long a tool waits for the owner's decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(default=600.0, gt=0, le=7 * 86_400)
    """Undecided after this long: denied."""
