"""How a turn looks on a terminal, shared by `roost ask` (either path) and `roost chat`."""

from __future__ import annotations

import sys
from typing import Any, TextIO

DIM = "\x1b[2m"
RED = "\x1b[31m"
BOLD = "\x1b[1m"
RESET = "\x1b[0m"


def short(text: str, limit: int = 80) -> str:
    """One line of at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


RESTART_NOTE = "  [the model failed midway: another model starts the answer again]"


class StreamPrinter:
    """Streamed text to stdout as it arrives; a tool call is one line on ``tool_stream``.

    ``style`` wraps tool lines in ANSI codes (e.g. `DIM`) on a terminal. The streams
    are looked up at each write, so a replaced ``sys.stdout`` (patch_stdout, capsys)
    is honoured.
    """

    def __init__(self, *, tools_to_stdout: bool = False, style: str = "") -> None:
        self._tools_to_stdout = tools_to_stdout
        self._style = style
        self.mid_line = False
        self.wrote_text = False

    def text(self, delta: str) -> None:
        if not delta:
            return
        sys.stdout.write(delta)
        sys.stdout.flush()
        self.mid_line = not delta.endswith("\n")
        self.wrote_text = True

    def end_line(self) -> None:
        if self.mid_line:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.mid_line = False

    def tool_started(self, tool: str, summary: str) -> None:
        self.end_line()
        self._tool_line(f"  [{tool}] {short(summary)}")

    def tool_failed(self, tool: str, summary: str) -> None:
        self.end_line()
        self._tool_line(f"  [{tool}] failed: {short(summary)}")

    def restarted(self) -> None:
        """The text above broke off midway; the answer starts again below (chat.restart)."""
        self.end_line()
        self._tool_line(RESTART_NOTE)

    def _tool_line(self, line: str) -> None:
        stream: TextIO = sys.stdout if self._tools_to_stdout else sys.stderr
        if self._style:
            line = f"{self._style}{line}{RESET}"
        print(line, file=stream, flush=True)

    def event(self, name: str, data: dict[str, Any]) -> None:
        """Show a gateway ``chat.delta``, ``chat.restart`` or ``chat.tool`` event."""
        if name == "chat.delta":
            self.text(str(data.get("text", "")))
        elif name == "chat.restart":
            self.restarted()
        elif name == "chat.tool":
            tool = str(data.get("tool", "tool"))
            summary = str(data.get("summary", ""))
            if data.get("phase") == "started":
                self.tool_started(tool, summary)
            elif data.get("is_error"):
                self.tool_failed(tool, summary)


def usage_line(data: dict[str, Any]) -> str:
    """``12 in / 34 out tokens · $0.000123 · 1.2 s`` from a chat.reply's fields."""
    parts = [
        f"{_int(data.get('input_tokens')):,} in / {_int(data.get('output_tokens')):,} out tokens"
    ]
    cost = data.get("cost_usd")
    if isinstance(cost, int | float):
        parts.append(f"${cost:.6f}")
    duration = data.get("duration_ms")
    if isinstance(duration, int | float):
        parts.append(f"{duration:.0f} ms" if duration < 1000 else f"{duration / 1000:.1f} s")
    return " · ".join(parts)


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0
