"""How `roost ask` and `roost chat` show chat.restart: the broken line ended, a note, then
the new answer (the broken text is not repeated)."""

from __future__ import annotations

import pytest

from roost.client.render import RESTART_NOTE, StreamPrinter


def test_a_restart_ends_the_broken_line_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    printer = StreamPrinter()
    printer.event("chat.delta", {"text": "The first half"})
    printer.event("chat.restart", {})
    printer.event("chat.delta", {"text": "A whole answer."})
    captured = capsys.readouterr()
    assert captured.out == "The first half\nA whole answer."
    assert captured.err.strip() == RESTART_NOTE.strip()
