"""The bubblewrap (``bwrap``) sandbox a shell command runs in, where bwrap works.

Inside: the whole file system read-only, the agent's workspace writable, a private
``/tmp``, Roost's data directory (the database, ``gateway.token``) and the config file
hidden (an empty directory / an empty file over them), new namespaces for everything
(no network unless the policy allows it, no view of other processes), a new session
(no writing to the owner's terminal) and ``--die-with-parent``.

bwrap may be installed yet unusable (a container without user namespaces), so it is
*tried* once, with a command that must succeed, before it is relied upon.
``shell.sandbox``: ``auto`` uses it when it works (else runs commands unsandboxed,
with a warning), ``required`` refuses to run commands without it, ``off`` never uses it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

SandboxMode = Literal["auto", "off", "required"]
PROBE_TIMEOUT_S = 10.0


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
    """Directories replaced by an empty one (Roost's data directory)."""
    hidden_files: Sequence[Path] = ()
    """Files replaced by an empty one (the config file, which may hold secrets)."""
    network: bool = False


def bwrap_argv(bwrap: str, layout: SandboxLayout, command: Sequence[str]) -> list[str]:
    """The bwrap command line that runs ``command`` inside the sandbox of ``layout``."""
    argv = [bwrap, "--die-with-parent", "--new-session", "--unshare-all"]
    if layout.network:
        argv.append("--share-net")
    argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    workspace = str(layout.workspace)
    for directory in layout.hidden_dirs:
        # An empty directory over it; the workspace, if inside, is bound back below.
        if directory.is_dir():
            argv += ["--tmpfs", str(directory)]
    for hidden in layout.hidden_files:
        if hidden.is_file():
            argv += ["--ro-bind", "/dev/null", str(hidden)]
    argv += ["--bind", workspace, workspace, "--chdir", workspace, "--", *command]
    return argv
