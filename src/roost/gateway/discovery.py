"""Where a running gateway can be found, and its token: files under the data directory.

`roost run` writes ``<home>/gateway.json`` once the gateway listens and removes it
on a clean stop; the process lock (``roost.pid``) tells whether the writer is still
alive, so a file left by a killed process is not trusted. The token is the config's
``gateway.token`` or, when that is unset, ``<home>/gateway.token`` (mode 0600),
generated on first start.

Kept free of heavy imports: `roost ask` and `roost chat` read these before anything else.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

TOKEN_FILE = "gateway.token"
ENDPOINT_FILE = "gateway.json"


@dataclass(frozen=True)
class Endpoint:
    ws_url: str
    http_url: str
    pid: int
    config_path: str | None = None
    """The config file the running process loaded (None: built-in defaults)."""
    config_sha256: str | None = None
    """Its SHA-256 as it was read, so a client can tell it changed since."""
    records_config: bool = True
    """False for a file written by a Roost that did not record the config."""


def token_path(home: Path) -> Path:
    return home / TOKEN_FILE


def read_token_file(home: Path) -> str | None:
    try:
        token = token_path(home).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return token or None


def ensure_token_file(home: Path) -> str:
    """The stored token, generated (0600, never group/world readable) if missing."""
    existing = read_token_file(home)
    if existing:
        return existing
    token = secrets.token_urlsafe(32)
    path = token_path(home)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.chmod(path, 0o600)
    return token


def write_endpoint(home: Path, endpoint: Endpoint) -> None:
    path = home / ENDPOINT_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(
        json.dumps(
            {
                "ws": endpoint.ws_url,
                "http": endpoint.http_url,
                "pid": endpoint.pid,
                "config": endpoint.config_path,
                "config_sha256": endpoint.config_sha256,
            }
        ),
        encoding="utf-8",
    )
    temporary.replace(path)


def remove_endpoint(home: Path) -> None:
    (home / ENDPOINT_FILE).unlink(missing_ok=True)


def read_endpoint(home: Path) -> Endpoint | None:
    """The running gateway's endpoint, or None if none is running (or the file is stale)."""
    try:
        data = json.loads((home / ENDPOINT_FILE).read_text(encoding="utf-8"))
        endpoint = Endpoint(
            str(data["ws"]),
            str(data["http"]),
            int(data["pid"]),
            _optional_text(data.get("config")),
            _optional_text(data.get("config_sha256")),
            records_config="config" in data,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return endpoint if process_alive(endpoint.pid) else None


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
