"""Naming what holds a port, from a /proc laid out as Linux lays it out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roost.gateway.port_holder import port_holder

_HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout"
    " inode\n"
)


def _proc(tmp_path: Path, port: int, argv: list[str], state: str = "0A") -> Path:
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    row = (
        f"   0: 0100007F:{port:04X} 00000000:0000 {state} 00000000:00000000 00:00000000 "
        "00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0\n"
    )
    (proc / "net" / "tcp").write_text(_HEADER + row)
    (proc / "net" / "tcp6").write_text(_HEADER)
    for pid, links in (("7", ["/dev/null", "socket:[1]"]), ("31", ["pipe:[9]", "socket:[4242]"])):
        (proc / pid / "fd").mkdir(parents=True)
        for fd, target in enumerate(links):
            os.symlink(target, proc / pid / "fd" / str(fd))
    (proc / "7" / "cmdline").write_bytes(b"sleep\x00100\x00")
    (proc / "31" / "cmdline").write_bytes(b"\x00".join(part.encode() for part in argv) + b"\x00")
    return proc


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/home/u/.venv/bin/roost", "--config", "x.yaml", "run"], "another roost run (pid 31)"),
        (["/usr/bin/python3", "-m", "roost", "run", "--grace", "3"], "another roost run (pid 31)"),
        (["nanobot", "gateway", "--token", "s3cret"], "nanobot (pid 31)"),
        (
            ["/usr/bin/python3", "/srv/app/server.py", "--key", "s3cret"],
            "python3 server.py (pid 31)",
        ),
        ([], "another program (pid 31)"),
    ],
)
def test_the_holder_is_named_without_its_arguments(
    tmp_path: Path, argv: list[str], expected: str
) -> None:
    assert port_holder(18790, _proc(tmp_path, 18790, argv)) == expected


def test_unknown_holders_are_another_program(tmp_path: Path) -> None:
    proc = _proc(tmp_path, 18790, ["nanobot"], state="01")  # established, not listening
    assert port_holder(18790, proc) == "another program"
    assert port_holder(18791, _proc(tmp_path / "b", 18790, ["nanobot"])) == "another program"
    assert port_holder(18790, tmp_path / "no-proc-here") == "another program"
