"""How `roost chat` shows things: streamed and coloured on a terminal, plain otherwise."""

from __future__ import annotations

import sys
from typing import Any

from roost.client.render import DIM, RED, RESET, StreamPrinter, short, usage_line


class Ui:
    """How the chat shows things; `TerminalUi` and `PlainUi` differ."""

    def info(self, text: str) -> None:
        print(text, flush=True)

    def dim(self, text: str) -> None:
        print(text, flush=True)

    def error(self, text: str) -> None:
        print(f"roost: {text}", file=sys.stderr, flush=True)

    def delta(self, text: str) -> None:
        """A streamed piece of the answer."""

    def restart(self) -> None:
        """chat.restart: the streamed text broke off; the answer starts again."""

    def tool(self, data: dict[str, Any]) -> None:
        """A chat.tool event of the running turn."""

    def tool_line(self, tool: str, summary: str) -> None:
        self.dim(f"  [{tool}] {short(summary)}")

    def reply(self, data: dict[str, Any], streamed: bool) -> None:
        print(str(data.get("text", "")), flush=True)

    def end_stream(self, streamed: bool) -> None:
        """Finish the line an interrupted stream left open."""


class PlainUi(Ui):
    """For pipes and scripts: replies on stdout, everything else on stderr, no colours."""

    def dim(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def tool(self, data: dict[str, Any]) -> None:
        if data.get("phase") == "started":
            self.tool_line(str(data.get("tool", "tool")), str(data.get("summary", "")))


class TerminalUi(Ui):
    """Streams the answer; tool lines and usage dim, errors red (ANSI, via patch_stdout)."""

    def __init__(self) -> None:
        self._printer = StreamPrinter()

    def dim(self, text: str) -> None:
        print(f"{DIM}{text}{RESET}", flush=True)

    def error(self, text: str) -> None:
        self._printer.end_line()
        print(f"{RED}{text}{RESET}", flush=True)

    def delta(self, text: str) -> None:
        self._printer.text(text)

    def restart(self) -> None:
        self._printer.restarted()

    def tool(self, data: dict[str, Any]) -> None:
        tool = str(data.get("tool", "tool"))
        summary = str(data.get("summary", ""))
        if data.get("phase") == "started":
            self._printer.end_line()
            self.tool_line(tool, summary)
        elif data.get("is_error"):
            self._printer.end_line()
            self.tool_line(tool, f"failed: {summary}")

    def reply(self, data: dict[str, Any], streamed: bool) -> None:
        if streamed:
            self._printer.end_line()
        else:
            print(str(data.get("text", "")), flush=True)
        self.dim(usage_line(data))

    def end_stream(self, streamed: bool) -> None:
        self._printer.end_line()
