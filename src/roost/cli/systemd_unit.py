"""The systemd unit `roost service install` writes, and where it goes.

Pure text and paths: no systemctl here (``service_cmd`` runs it, through a runner
tests replace).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

UNIT_NAME = "roost.service"
WATCHDOG_S = 60
"""``WatchdogSec``: `roost run` pings at half of it (sd_notify ``WATCHDOG=1``)."""
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")


@dataclass(frozen=True)
class UnitSpec:
    config_path: Path | None
    home: Path
    system: bool = False
    """A system unit (``/etc/systemd/system``, runs as ``user``) rather than a user unit."""
    user: str | None = None
    python: str = sys.executable
    grace_s: float = 10.0


def unit_dir(system: bool, env: dict[str, str] | None = None) -> Path:
    """``~/.config/systemd/user`` (or ``$XDG_CONFIG_HOME/systemd/user``), or the system one."""
    if system:
        return SYSTEM_UNIT_DIR
    env = dict(os.environ) if env is None else env
    config_home = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")) / ".config")
    return Path(config_home).expanduser() / "systemd" / "user"


def render_unit(spec: UnitSpec) -> str:
    """The unit file's text: ``Type=notify`` (`roost run` says READY), restarted on failure,
    watched by systemd's watchdog."""
    command = [spec.python, "-m", "roost", "run"]
    if spec.config_path is not None:
        command += ["--config", str(spec.config_path)]
    service = [
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={' '.join(quote_arg(arg) for arg in command)}",
        "ExecReload=/bin/kill -HUP $MAINPID",  # `systemctl reload roost`: a config reload
        f"Environment={quote_arg(f'ROOST_HOME={spec.home}', variables=False)}"
        if spec.config_path is None
        else None,
        "Restart=on-failure",
        "RestartSec=5",
        f"WatchdogSec={WATCHDOG_S}",
        # The turns' grace, then the store's close, before systemd sends SIGKILL.
        f"TimeoutStopSec={int(spec.grace_s) + 20}",
        f"User={spec.user}" if spec.system and spec.user else None,
    ]
    lines = [
        "# Written by `roost service install`; `roost service uninstall` removes it.",
        "[Unit]",
        "Description=Roost: always-on AI agents",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        *(line for line in service if line is not None),
        "",
        "[Install]",
        f"WantedBy={'multi-user.target' if spec.system else 'default.target'}",
    ]
    return "\n".join(lines) + "\n"


def quote_arg(arg: str, *, variables: bool = True) -> str:
    """One word of a unit's command line: specifiers (``%``) and, in ``ExecStart``,
    variables (``$``) escaped; quoted when it holds a space, a quote or a backslash."""
    if any(ord(char) < 32 for char in arg):
        raise ValueError(f"{arg!r}: a control character cannot go in a systemd unit")
    text = arg.replace("%", "%%")
    if variables:
        text = text.replace("$", "$$")
    if any(char in text for char in " \"\\'") or not text:
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text
