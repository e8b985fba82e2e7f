"""`roost service install|uninstall|status`: `roost run` as a systemd service.

systemctl is run through ``$ROOST_SYSTEMCTL`` (default ``systemctl``), so tests and
unusual systems can put another program in its place; ``--dry-run`` prints the unit
and the commands and changes nothing.
"""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from roost.cli.common import EXIT_FAILED, fail, load

service_app = typer.Typer(
    help="Run Roost as a systemd service that starts with the machine (or your login).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SystemOption = Annotated[
    bool,
    typer.Option(
        "--system/--user",
        help="A system unit (/etc/systemd/system, needs root) or a user unit "
        "(~/.config/systemd/user, the default).",
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print the unit and the commands; change nothing.")
]


def _systemctl(system: bool, *args: str) -> list[str]:
    program = os.environ.get("ROOST_SYSTEMCTL") or "systemctl"
    return [program, *([] if system else ["--user"]), *args]


def _run(command: list[str], dry_run: bool) -> None:
    print(f"$ {shlex.join(command)}")
    if dry_run:
        return
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        fail(f"{command[0]}: {exc}")
    if done.returncode != 0:
        fail(f"{shlex.join(command)} failed: {(done.stderr or done.stdout).strip()}")


@service_app.command()
def install(
    ctx: typer.Context, system: SystemOption = False, dry_run: DryRunOption = False
) -> None:
    """Write roost.service for this config and enable it (starts now and at every boot)."""
    from roost.cli.systemd_unit import UNIT_NAME, UnitSpec, render_unit, unit_dir

    settings = load(ctx)
    spec = UnitSpec(settings.config_path, settings.home, system=system, user=getpass.getuser())
    try:
        unit = render_unit(spec)
    except ValueError as exc:
        fail(str(exc))
    path = unit_dir(system) / UNIT_NAME
    if dry_run:
        print(f"# would write {path}:\n{unit}")
    else:
        _write(path, unit)
        print(f"wrote {path}")
    _run(_systemctl(system, "daemon-reload"), dry_run)
    _run(_systemctl(system, "enable", "--now", UNIT_NAME), dry_run)
    if not system:
        print(
            "A user service stops when you log out; to keep Roost running, once:\n"
            f"  loginctl enable-linger {getpass.getuser()}"
        )
    print("See how it is doing: roost status; its log: roost logs -f")


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        hint = " (a system unit needs root: sudo, or --user)" if path.is_relative_to("/etc") else ""
        fail(f"cannot write {path}: {exc.strerror or exc}{hint}")


@service_app.command()
def uninstall(
    ctx: typer.Context, system: SystemOption = False, dry_run: DryRunOption = False
) -> None:
    """Stop and disable roost.service and remove its unit file (your data stays)."""
    from roost.cli.systemd_unit import UNIT_NAME, unit_dir

    path = unit_dir(system) / UNIT_NAME
    if not path.exists() and not dry_run:
        fail(f"no unit at {path} (nothing to uninstall)", EXIT_FAILED)
    _run(_systemctl(system, "disable", "--now", UNIT_NAME), dry_run)
    if dry_run:
        print(f"# would remove {path}")
    else:
        path.unlink(missing_ok=True)
        print(f"removed {path}")
    _run(_systemctl(system, "daemon-reload"), dry_run)


@service_app.command("status")
def service_status(system: SystemOption = False) -> None:
    """systemd's view of roost.service (for Roost's own view: roost status)."""
    from roost.cli.systemd_unit import UNIT_NAME, unit_dir

    path = unit_dir(system) / UNIT_NAME
    print(f"unit: {path} ({'present' if path.exists() else 'not installed'})")
    command = _systemctl(system, "status", "--no-pager", UNIT_NAME)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        fail(f"{command[0]}: {exc}")
    print((done.stdout or done.stderr).rstrip())
    # systemctl status: 0 running, 3 not running, 4 no such unit; passed on for scripts.
    raise typer.Exit(done.returncode)
