"""Who listens on a TCP port: for the "port in use" message, best effort.

On Linux the listening socket's inode is in ``/proc/net/tcp`` (and ``tcp6``), and the
process holding it has a ``/proc/<pid>/fd`` link to ``socket:[<inode>]``. Processes of
other users cannot be looked into (without root); then, and on other systems, the
answer is "another program". Only the program's name is given, never its arguments
(they may hold a token). Never raises: it only words an error message.
"""

from __future__ import annotations

import os
from pathlib import Path

_LISTEN = "0A"
"""The TCP state LISTEN in /proc/net/tcp."""
_MAX_PROCESSES = 5000
"""Stop looking after this many processes: the message must come at once."""


def port_holder(port: int, proc: Path = Path("/proc")) -> str:
    """ "another roost run (pid 12)", "nanobot (pid 12)", or "another program"."""
    try:
        inodes = _listening_inodes(port, proc)
        found = _process_holding(inodes, proc) if inodes else None
    except (OSError, ValueError):
        found = None
    if found is None:
        return "another program"
    pid, argv = found
    name = _program_name(argv)
    if "roost" in name and "run" in argv[1:]:
        return f"another roost run (pid {pid})"
    return f"{name} (pid {pid})" if name else f"another program (pid {pid})"


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] != "0":
                inodes.add(fields[9])
    return inodes


def _process_holding(inodes: set[str], proc: Path) -> tuple[int, list[str]] | None:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    pids = [entry for entry in os.listdir(proc) if entry.isdigit()]
    for pid in pids[:_MAX_PROCESSES]:
        if wanted.intersection(_fd_links(proc / pid / "fd")):
            try:
                raw = (proc / pid / "cmdline").read_bytes()
            except OSError:
                raw = b""
            argv = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
            return int(pid), argv
    return None


def _fd_links(fd_dir: Path) -> set[str]:
    try:
        fds = os.listdir(fd_dir)
    except OSError:  # gone, or another user's
        return set()
    links: set[str] = set()
    for fd in fds:
        try:
            links.add(os.readlink(fd_dir / fd))
        except OSError:  # closed meanwhile
            continue
    return links


def _program_name(argv: list[str]) -> str:
    """``nanobot``, ``python -m roost``, ``python server.py``: no other arguments."""
    if not argv:
        return ""
    name = os.path.basename(argv[0])
    if name.startswith("python") and len(argv) > 1:
        if argv[1] == "-m" and len(argv) > 2:
            return f"{name} -m {argv[2]}"
        if not argv[1].startswith("-"):
            return f"{name} {os.path.basename(argv[1])}"
    return name
