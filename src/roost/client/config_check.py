"""Whether the running `roost run` loaded the config this command loaded.

`roost run` records in ``<home>/gateway.json`` the config file it loaded and the file's
SHA-256 as it read it. A command that talks to it (`roost ask`, `roost chat`) or reports
on it (`roost doctor`, `roost agents`) compares them with its own: a config edited after
`roost run` started, or another ``./roost.yaml`` in this directory, would otherwise be
silently ignored by the process that answers.

Standard library only: `roost ask` through a gateway imports this.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from roost.config.fingerprint import config_digest
from roost.gateway.discovery import read_endpoint

RESTART = "restart it (Ctrl+C, then `roost run`) to use the new config"
NO_FILE = "no config file (built-in defaults)"


@dataclass(frozen=True)
class RunningConfig:
    """The running process's config compared with this command's."""

    pid: int
    http_url: str
    loaded: str | None
    """The file it loaded (None: built-in defaults)."""
    ours: str | None
    """The file this command loaded."""
    changed: bool
    """Same file, but its content differs from what the running process read."""

    @property
    def same(self) -> bool:
        return self.loaded == self.ours and not self.changed

    def mismatch(self) -> str | None:
        """What to tell the user when the configs differ, with the fix; None if they match."""
        if self.changed:
            return (
                f"the running roost run (pid {self.pid}) loaded {self.loaded}, which changed "
                f"since it started: {RESTART}"
            )
        if self.loaded != self.ours:
            return (
                f"the running roost run (pid {self.pid}) loaded {_where(self.loaded)}; this "
                f"command loaded {_where(self.ours)}: {RESTART}"
            )
        return None

    def summary(self) -> str:
        """One line: which config the running process uses."""
        note = self.mismatch()
        if note is not None:
            return note
        return f"the running roost run (pid {self.pid}) uses this config: {_where(self.loaded)}"


def running_config(home: Path, config_path: Path | None) -> RunningConfig | None:
    """The running `roost run` of ``home`` and its config compared with ``config_path``;
    None when none is running or it did not record its config (an older Roost)."""
    endpoint = read_endpoint(home)
    if endpoint is None or not endpoint.records_config:
        return None
    ours = str(config_path.resolve()) if config_path is not None else None
    changed = False
    if ours is not None and ours == endpoint.config_path and endpoint.config_sha256:
        digest = config_digest(Path(ours))
        changed = digest is not None and digest != endpoint.config_sha256
    return RunningConfig(endpoint.pid, endpoint.http_url, endpoint.config_path, ours, changed)


PROVIDER_VARIABLES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ROOST_LOCAL_BASE_URL")
"""What gives the default agent a provider when the config defines no agents."""


def unconfigured_hint(home: Path, env: Mapping[str, str]) -> str | None:
    """When the running `roost run` answered "no provider" but this shell sets a provider
    variable: it started without it (environment variables are read at start)."""
    endpoint = read_endpoint(home)
    names = [name for name in PROVIDER_VARIABLES if env.get(name)]
    if endpoint is None or not names:
        return None
    return (
        f"the running roost run (pid {endpoint.pid}) started without {' or '.join(names)}, "
        f"which this shell sets: restart it (Ctrl+C, then `roost run`) where "
        f"{'it is' if len(names) == 1 else 'they are'} set"
    )


def say_running_config(home: Path, config_path: Path | None) -> None:
    """One line on stderr: which config the running `roost run` uses, if one runs."""
    running = running_config(home, config_path)
    if running is not None:
        print(f"roost: {running.summary()}", file=sys.stderr, flush=True)


def _where(path: str | None) -> str:
    return path if path is not None else NO_FILE
