"""What a turn reports while it runs. Kept free of heavy imports: the CLI and (later)
the gateway subclass it without loading the store or a provider."""

from __future__ import annotations

from roost.providers.base import ToolCall
from roost.tools.registry import ToolOutcome


class TurnObserver:
    """Receives a turn's progress as it happens; override what you need."""

    async def on_text(self, delta: str) -> None:
        """A streamed piece of the model's text."""

    async def on_restart(self) -> None:
        """The text streamed so far is void: the model failed midway and another model
        starts the answer again (the deltas after this are the whole answer)."""

    async def on_tool_start(self, call: ToolCall) -> None:
        """A tool call is about to run."""

    async def on_tool_end(self, call: ToolCall, outcome: ToolOutcome) -> None:
        """A tool call finished (``outcome.is_error`` tells how)."""
