"""The few config values a gateway client needs, read without the pydantic loader.

`roost ask` through a running gateway needs only the data directory (to find
``gateway.json``) and ``gateway.token``; validating the whole file with pydantic
would cost more than the rest of the command. `peek_config` reads them the way
`roost.config.loader` does (same search order, ``${VAR}`` substitution, ``home:``
relative to the file, ``$ROOST_HOME`` first) and returns None whenever the file is
anything but plainly valid for those keys, so the caller falls back to the full
loader, which reports problems properly. tests/client checks the two agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_FILE_NAME = "roost.yaml"  # as roost.config.loader.CONFIG_FILE_NAME


@dataclass(frozen=True)
class PeekedConfig:
    config_path: Path | None
    home: Path
    token: str | None
    """``gateway.token`` from the file, if set."""
    agents: tuple[str, ...]


def peek_config(
    explicit: Path | None = None, env: Mapping[str, str] | None = None
) -> PeekedConfig | None:
    """Home, gateway token and agent names, or None: use the full loader instead."""
    env = os.environ if env is None else env
    try:
        path = _find_config(explicit, env)
    except FileNotFoundError:
        return None
    raw: Any = {}
    if path is not None:
        raw = _read_yaml(path, env)
        if raw is None:
            return None
    home = _default_home(env)
    configured_home = raw.get("home")
    if not env.get("ROOST_HOME") and configured_home is not None:
        if not isinstance(configured_home, str) or not configured_home:
            return None
        base = path.parent.resolve() if path else Path.cwd()
        home = _absolute(Path(configured_home), base)
    gateway = raw.get("gateway", {})
    agents = raw.get("agents", {})
    if gateway is None:
        gateway = {}
    if agents is None:
        agents = {}
    if not isinstance(gateway, dict) or not isinstance(agents, dict):
        return None
    token = gateway.get("token")
    if token is not None and not isinstance(token, str):
        return None
    return PeekedConfig(
        config_path=path.resolve() if path else None,
        home=home,
        token=token or None,
        agents=tuple(str(name) for name in agents),
    )


def _read_yaml(path: Path, env: Mapping[str, str]) -> dict[str, Any] | None:
    import yaml

    from roost.config.environment import substitute
    from roost.config.shape import check_shape

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError, UnicodeDecodeError, RecursionError):
        return None
    if check_shape(raw) is not None:  # the full loader says why
        return None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return None
    substituted, problems = substitute(raw, env)
    if problems or not isinstance(substituted, dict):
        return None
    return substituted


def _default_home(env: Mapping[str, str]) -> Path:
    # as roost.config.loader.default_home
    if env.get("ROOST_HOME"):
        return Path(env["ROOST_HOME"]).expanduser().resolve()
    return Path("~/.roost").expanduser()


def _find_config(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """As roost.config.loader.find_config (FileNotFoundError where that raises)."""
    if explicit is not None:
        if not explicit.is_file():
            raise FileNotFoundError(explicit)
        return explicit
    from_env = env.get("ROOST_CONFIG")
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(path)
        return path
    for candidate in (Path.cwd() / CONFIG_FILE_NAME, _default_home(env) / CONFIG_FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def _absolute(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base / path).resolve()
