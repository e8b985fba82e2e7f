"""`TerminalPrinter`: an in-process turn streamed to the terminal, as `roost ask` shows it.

Its own module because `TurnObserver` imports the provider and tool types; `roost ask`
through a gateway never loads them.
"""

from __future__ import annotations

from roost.agents.observer import TurnObserver
from roost.client.render import StreamPrinter
from roost.providers.base import ToolCall
from roost.tools.registry import ToolOutcome


class TerminalPrinter(TurnObserver):
    """Streams the answer to stdout as it arrives; tool calls go to stderr, one line each."""

    def __init__(self) -> None:
        self._printer = StreamPrinter()

    async def on_text(self, delta: str) -> None:
        self._printer.text(delta)

    async def on_restart(self) -> None:
        self._printer.restarted()

    async def on_tool_start(self, call: ToolCall) -> None:
        self._printer.tool_started(call.name, call.arguments_json)

    async def on_tool_end(self, call: ToolCall, outcome: ToolOutcome) -> None:
        if outcome.is_error:
            self._printer.tool_failed(call.name, outcome.text)
