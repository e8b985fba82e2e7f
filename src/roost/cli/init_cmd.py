"""`roost init`: write a commented starter configuration."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from roost.cli.common import fail, out_console


def starter_config() -> str:
    return (resources.files("roost.config") / "roost.example.yaml").read_text(encoding="utf-8")


def init(
    path: Annotated[Path, typer.Option("--path", "-p", help="Where to write it.")] = Path(
        "roost.yaml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter roost.yaml (one Claude agent; edit to taste)."""
    if path.exists() and not force:
        fail(f"{path} already exists; use --force to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(starter_config(), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")
    console = out_console()
    console.print(f"wrote {path}", highlight=False)
    console.print(
        "next: export ANTHROPIC_API_KEY=… (or edit the providers), then: "
        'roost ask assistant "hello"',
        highlight=False,
    )
    # The docs/ folder of the source tree is not there for a pip user; this is.
    console.print("every key is explained by: roost help config", highlight=False)
