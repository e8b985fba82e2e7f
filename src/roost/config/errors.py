"""The one error type configuration problems raise."""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    """A configuration problem a person must fix.

    The message names the file and the key path, e.g.
    ``roost.yaml: agents.assistant.model: unknown provider 'claud'``.
    """

    def __init__(self, problems: list[str], path: Path | None = None) -> None:
        self.problems = problems
        self.path = path
        where = f"{path}: " if path else ""
        if len(problems) == 1:
            text = where + problems[0]
        else:
            text = f"{path or 'configuration'} has {len(problems)} problems:\n" + "\n".join(
                f"  - {problem}" for problem in problems
            )
        super().__init__(text)
