"""`roost doctor`'s hook for the checks features and tools add, and the file-mode check.

A feature or tool that has something to warn about (an agent with ``shell: full``, a
fetch allowed into the private network, an MCP server that fails to start, memory
without FTS5) writes a function ``(Settings) -> list[(ok, text)]`` (or an async one)
and lists it in ``FEATURE_CHECKS`` as ``"module:function"``. Doctor imports each only
when it runs, so a listed check costs `roost run` nothing. ``ok`` is True ✓, False ✗
(doctor fails), None a warning. A check that raises is reported, not fatal.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import stat
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roost.config.settings import Settings

log = logging.getLogger(__name__)

Result = tuple[bool | None, str]

FEATURE_CHECKS: tuple[str, ...] = (
    "roost.cli.doctor_checks:permission_checks",
    "roost.tools.memory:doctor_checks",
    "roost.tools.notify:doctor_checks",
    "roost.web.doctor:fetch_checks",
)
"""Every added check, in the order doctor prints them: one line per feature or tool."""

_SECRET_FILES = ("roost.db", "gateway.token")
"""Files in the data directory that hold secrets or conversations."""


async def feature_checks(
    settings: Settings, names: tuple[str, ...] = FEATURE_CHECKS
) -> list[Result]:
    results: list[Result] = []
    for name in names:
        module, _, function = name.partition(":")
        try:
            check = getattr(importlib.import_module(module), function)
            found = check(settings)
            if inspect.isawaitable(found):
                found = await found
            results.extend(found)
        except Exception as exc:
            log.debug("doctor check %s failed", name, exc_info=True)
            results.append((False, f"check {name} failed: {type(exc).__name__}: {exc}"))
    return results


def permission_checks(settings: Settings) -> list[Result]:
    """The config file and the data directory (and what it holds) private to their owner:
    they hold keys, tokens, conversations and notes."""
    problems: list[Result] = []
    if settings.config_path is not None:
        problems += _private(settings.config_path, "config file", 0o600)
    home = settings.home
    if home.is_dir():
        problems += _private(home, "data directory", 0o700)
        for name in _SECRET_FILES:
            if (home / name).is_file():
                problems += _private(home / name, "data file", 0o600)
    return problems or [(True, "config file and data directory are private to their owner")]


def _private(path: Path, what: str, wanted: int) -> list[Result]:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return []
    if not mode & 0o077:
        return []
    who = "writable" if mode & 0o022 else "readable"
    return [
        (
            None,
            f"{what} {path} is {who} by other users (mode {mode:04o}); "
            f"fix: chmod {wanted:o} {path}",
        )
    ]
