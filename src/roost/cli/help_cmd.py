"""`roost help config`: the configuration reference, as installed with the package.

The reference (docs/configuration.md) ships inside the package (``roost/docs``), so a
pip user without the source tree can read it; `roost init` and configuration errors
point here rather than to a path they do not have.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated

import typer

from roost.cli.common import fail

TOPICS = {"config": "configuration.md", "mcp": "mcp.md"}
"""Topic → the bundled page that `roost help TOPIC` prints."""


def bundled_page(topic: str) -> str:
    """The text of a bundled documentation page, e.g. ``bundled_page("config")``."""
    return (resources.files("roost") / "docs" / TOPICS[topic]).read_text(encoding="utf-8")


def help_topic(
    topic: Annotated[str, typer.Argument(help="What to explain: config or mcp.")] = "config",
) -> None:
    """Print a reference page: `roost help config` lists every configuration key,
    `roost help mcp` explains MCP servers."""
    if topic not in TOPICS:
        fail(f"no help on '{topic}'; topics: {', '.join(TOPICS)}")
    try:
        text = bundled_page(topic)
    except OSError as exc:
        fail(f"the {topic} reference is missing from this installation: {exc.strerror or exc}")
    print(text, end="" if text.endswith("\n") else "\n")
