"""Logging: one readable line per event, to stderr and to <home>/logs/roost.log."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from roost.home import prepare_home

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(home: Path, level: str = "INFO", stderr_level: str | None = None) -> None:
    """Send Roost's logs to ``<home>/logs/roost.log`` and, at ``stderr_level``, to stderr."""
    prepare_home(home)
    log_dir = home / "logs"
    root = logging.getLogger("roost")
    root.setLevel(level)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    log_dir.mkdir(parents=True, exist_ok=True)
    to_file = logging.handlers.RotatingFileHandler(
        log_dir / "roost.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8"
    )
    to_file.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(to_file)
    if stderr_level:
        to_stderr = logging.StreamHandler()
        to_stderr.setLevel(stderr_level)
        to_stderr.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")
        )
        root.addHandler(to_stderr)
