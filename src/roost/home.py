"""The data directory: created private, because it holds conversations and the ledger."""

from __future__ import annotations

from pathlib import Path


def prepare_home(home: Path) -> None:
    """Create ``home`` (mode 0700) if missing; an existing directory is left as the user set it."""
    if not home.exists():
        home.mkdir(parents=True, mode=0o700)
        home.chmod(0o700)  # mkdir's mode is filtered by the umask
