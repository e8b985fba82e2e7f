"""Running one shell command: its own process group, a timeout, capped output, a clean env.

- The command runs as ``/bin/sh -c COMMAND`` (inside bwrap when sandboxed), in the
  workspace, in a new session (``start_new_session``: its own process group, no
  controlling terminal), with stdin closed.
- When it ends, times out or the turn is cancelled, the whole process group is killed
  (``SIGKILL``), so a forked or backgrounded grandchild does not outlive it.
- Output (stdout and stderr together) is read in chunks as it comes: the first
  ``head`` bytes and the last ``tail`` bytes are kept, the middle is counted and
  dropped, so gigabytes of output never sit in memory.
- The environment is built from nothing: ``PATH``, ``LANG``/``LC_ALL``/``TZ`` if set,
  ``HOME`` = the workspace, ``TERM=dumb``. No variable of Roost's (API keys, the bot
  token, the gateway token) reaches the command; known secret values are also
  replaced in what the command prints (``<redacted>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_KEPT_VARIABLES = ("LANG", "LC_ALL", "TZ")
CHUNK_BYTES = 65_536
REDACTED = "<redacted>"


@dataclass(frozen=True)
class OutputCap:
    head: int = 8_000
    tail: int = 8_000


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None
    """None when the command was killed at the timeout."""
    output: str
    timed_out: bool
    dropped_bytes: int
    duration_s: float

    def for_model(self, timeout_s: float) -> str:
        if self.timed_out:
            status = f"killed after {timeout_s:g} s (timeout); output so far:"
        else:
            status = f"exit code {self.exit_code}"
        return f"{status}\n{self.output}" if self.output else f"{status} (no output)"


def clean_environment(
    workspace: Path, source: Mapping[str, str], secrets: Iterable[str] = ()
) -> dict[str, str]:
    """The command's whole environment: a few harmless variables, none of Roost's."""
    env = {"PATH": source.get("PATH") or DEFAULT_PATH, "HOME": str(workspace), "TERM": "dumb"}
    env.update({name: source[name] for name in _KEPT_VARIABLES if source.get(name)})
    hidden = [secret for secret in secrets if secret]
    clean = {
        name: value for name, value in env.items() if not any(secret in value for secret in hidden)
    }
    clean.setdefault("PATH", DEFAULT_PATH)  # a PATH holding a secret value is replaced
    return clean


class _CappedOutput:
    """Keeps the first ``head`` and last ``tail`` bytes; counts what is dropped between."""

    def __init__(self, cap: OutputCap) -> None:
        self._cap = cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._cap.head - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self._cap.tail > 0:
            self.tail += chunk
            if len(self.tail) > self._cap.tail:
                del self.tail[: len(self.tail) - self._cap.tail]

    @property
    def dropped(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self, secrets: Sequence[str]) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if self.dropped:
            text = f"{head}\n[… {self.dropped} bytes of output dropped …]\n{tail}"
        else:
            text = head + tail
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        return text


async def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    cap: OutputCap = OutputCap(),
    secrets: Sequence[str] = (),
) -> CommandResult:
    """Run ``argv`` (e.g. ``sh -c …``); the process group dies with it, whatever happens."""
    started = time.monotonic()
    # A pipe of our own rather than asyncio's: asyncio's ``wait()`` also waits for its
    # pipes to close, which a backgrounded grandchild holding stdout would delay forever.
    read_end, write_end = os.pipe()
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=write_end,
            stderr=write_end,
            start_new_session=True,
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    pipe = os.fdopen(read_end, "rb", buffering=0)
    output = _CappedOutput(cap)
    reader = asyncio.ensure_future(_read_all(pipe, output))
    deadline = started + timeout_s
    timed_out = False
    try:
        try:
            await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            timed_out = True
        # Background children still holding the pipe would keep it open: they go too.
        _kill_group(process.pid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), max(deadline - time.monotonic(), 0.1))
    finally:
        _kill_group(process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        pipe.close()  # if the reader was cancelled before it took the pipe over
        await process.wait()
    shown = [secret for secret in secrets if secret]
    return CommandResult(
        None if timed_out else process.returncode,
        output.text(shown),
        timed_out,
        output.dropped,
        time.monotonic() - started,
    )


async def _read_all(pipe: BinaryIO, output: _CappedOutput) -> None:
    """Read the pipe until every writer closed it (or this is cancelled)."""
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=CHUNK_BYTES)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), pipe)
    try:
        while chunk := await stream.read(CHUNK_BYTES):
            output.add(chunk)
    finally:
        transport.close()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
