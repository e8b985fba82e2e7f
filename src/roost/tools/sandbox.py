"""The bubblewrap (``bwrap``) sandbox a shell command runs in, where bwrap works.

Inside: the whole file system read-only, the agent's workspace writable, a private
``/tmp``; hidden behind an empty directory: Roost's data directory (the database,
``gateway.token``), every home directory (the owner's and ``/home``, ``/root``: ~/.ssh,
~/.aws, ~/.gnupg, ~/.netrc, ~/.config…) and ``/run/user`` (ssh-agent, gpg-agent and
D-Bus sockets); behind an empty file: the config file and container engines' sockets
(Docker's is root to whoever connects, and a socket in the file system is reachable
even without the network). The ``PATH`` directories inside a hidden one are bound back
read-only, so the owner's own tools (~/.local/bin, ~/.cargo/bin) still run, and so are
those ``shell.sandbox_readable`` lists (docs/security.md says why not a narrower list). New
namespaces for everything (no network unless the policy allows it, no view of other
processes), a new session (no writing to the owner's terminal), ``--die-with-parent``.

bwrap may be installed yet unusable (a container without user namespaces), so it is
*tried* once, with a command that must succeed, before it is relied upon.
``shell.sandbox``: ``auto`` uses it when it works (else runs commands unsandboxed,
with a warning), ``required`` refuses to run commands without it, ``off`` never uses it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

SandboxMode = Literal["auto", "off", "required"]
PROBE_TIMEOUT_S = 10.0
SHARED_PRIVATE_DIRS = (Path("/home"), Path("/root"), Path("/run/user"))
"""Every user's home, and the per-user runtime directories that hold agents' sockets."""
CONTROL_SOCKETS = (
    Path("/run/docker.sock"),
    Path("/var/run/docker.sock"),
    Path("/run/podman/podman.sock"),
    Path("/run/containerd/containerd.sock"),
)
"""Container engines' sockets: connecting to one is running anything as root."""


@dataclass(frozen=True)
class SandboxProbe:
    """Whether bwrap can be used here, and if not why (for logs and `roost doctor`)."""

    usable: bool
    detail: str


def probe_argv(bwrap: str) -> list[str]:
    return [bwrap, "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev", "--", "true"]


def _explain(bwrap: str | None, returncode: int, stderr: bytes) -> SandboxProbe:
    if bwrap is None:
        return SandboxProbe(False, "bwrap (bubblewrap) is not installed")
    if returncode == 0:
        return SandboxProbe(True, f"bwrap works ({bwrap})")
    reason = stderr.decode("utf-8", "replace").strip().splitlines()
    shown = reason[-1] if reason else f"exit status {returncode}"
    return SandboxProbe(False, f"bwrap is installed but cannot make a sandbox here: {shown}")


def probe_sandbox() -> SandboxProbe:
    """Try bwrap once (blocking; for `roost doctor`)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return _explain(None, 1, b"")
    try:
        done = subprocess.run(
            probe_argv(bwrap), capture_output=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SandboxProbe(False, f"bwrap could not be run: {type(exc).__name__}")
    return _explain(bwrap, done.returncode, done.stderr)


async def probe_sandbox_async() -> SandboxProbe:
    """Try bwrap once without blocking the event loop."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return _explain(None, 1, b"")
    try:
        process = await asyncio.create_subprocess_exec(
            *probe_argv(bwrap),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), PROBE_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        return SandboxProbe(False, f"bwrap could not be run: {type(exc).__name__}")
    return _explain(bwrap, process.returncode or 0, stderr)


@dataclass(frozen=True)
class SandboxLayout:
    """What the sandbox hides and what it lets the command write."""

    workspace: Path
    hidden_dirs: Sequence[Path] = ()
    """Directories replaced by an empty, read-only one (Roost's data directory, homes)."""
    hidden_files: Sequence[Path] = ()
    """Files (or sockets) replaced by an empty file: the config file, which may hold
    secrets; container engines' sockets."""
    exposed: Sequence[Path] = ()
    """Directories inside a hidden one bound back read-only (PATH's, the owner's tools;
    ``shell.sandbox_readable``)."""
    network: bool = False


def bwrap_argv(bwrap: str, layout: SandboxLayout, command: Sequence[str]) -> list[str]:
    """The bwrap command line that runs ``command`` inside the sandbox of ``layout``."""
    argv = [bwrap, "--die-with-parent", "--new-session", "--unshare-all"]
    if layout.network:
        argv.append("--share-net")
    argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    workspace = str(layout.workspace)
    hidden_dirs = [directory for directory in layout.hidden_dirs if directory.is_dir()]
    outer = [d for d in hidden_dirs if not any(d != o and d.is_relative_to(o) for o in hidden_dirs)]
    for directory in outer:
        # An empty directory over it; the workspace, if inside, is bound back below.
        argv += ["--tmpfs", str(directory)]
    for exposed in layout.exposed:
        argv += ["--ro-bind", str(exposed), str(exposed)]
    # A hidden directory inside another one is hidden by it, unless a directory bound
    # back brought it into view (Roost's data directory under a sandbox_readable one):
    # then it is hidden again, and what was bound back inside it, bound again.
    again = [
        d
        for d in hidden_dirs
        if d not in outer and any(d.is_relative_to(e) for e in layout.exposed)
    ]
    for directory in again:
        argv += ["--tmpfs", str(directory)]
    for exposed in layout.exposed:
        if any(exposed != d and exposed.is_relative_to(d) for d in again):
            argv += ["--ro-bind", str(exposed), str(exposed)]
    argv += ["--bind", workspace, workspace]
    for file in layout.hidden_files:  # after the workspace: a config file kept in it too
        # Covered unless a hidden directory already hides it; one bound back (the
        # workspace, an exposed directory: sandbox_readable's ~/.config, say) does not.
        shown = any(file.is_relative_to(d) for d in (layout.workspace, *layout.exposed)) or not any(
            file.is_relative_to(directory) for directory in (*outer, *again)
        )
        if shown and os.path.lexists(file) and not file.is_dir():
            argv += ["--ro-bind", "/dev/null", str(file)]
    for directory in (*outer, *again):  # read-only once the binds made their way through it
        argv += ["--remount-ro", str(directory)]
    argv += ["--chdir", workspace, "--", *command]
    return argv


def private_directories(owner_home: Path | None, also: Iterable[Path] = ()) -> list[Path]:
    """What the sandbox hides (blocking: it looks at the file system): ``also`` (Roost's
    data directory), the owner's home and ``SHARED_PRIVATE_DIRS``, where they exist;
    never ``/`` (a home of ``/`` is hidden by nothing). One inside another is kept: a
    directory bound back may bring it into view (``bwrap_argv`` hides it again then)."""
    candidates = [*also, *([owner_home] if owner_home else []), *SHARED_PRIVATE_DIRS]
    found: list[Path] = []
    for candidate in candidates:
        real = candidate.resolve()
        if real != Path("/") and real.is_dir() and real not in found:
            found.append(real)
    return found


def exposed_directories(
    path_variable: str, readable: Iterable[str], owner_home: Path, hidden: Sequence[Path]
) -> list[Path]:
    """What the sandbox shows read-only inside a hidden directory (blocking): the
    ``PATH`` directories (the owner's tools: ~/.local/bin, ~/.cargo/bin) and the
    ``shell.sandbox_readable`` ones. Only those: a tool that reads its own files
    elsewhere in the home (pyenv's versions) needs them listed in sandbox_readable."""
    entries = [entry for entry in path_variable.split(os.pathsep) if entry.startswith("/")]
    for entry in readable:  # relative PATH entries mean nothing in the workspace: skipped
        entries.append(str(owner_home / entry[2:]) if entry.startswith("~") else entry)
    exposed: list[Path] = []
    for entry in entries:
        real = Path(entry).resolve()
        inside = any(real != d and real.is_relative_to(d) for d in hidden)
        if inside and real.is_dir() and real not in exposed:
            exposed.append(real)
    return exposed
