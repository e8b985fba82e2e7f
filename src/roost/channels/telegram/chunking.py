"""Split a reply into Telegram-sized messages, working on the Markdown source.

Why split the Markdown and not the HTML made from it: Telegram's 4096-character
limit counts the message text *after* entity parsing, so tags are free, and the
converter (``formatting.markdown_to_html``) never makes the visible text longer
than its source: it only drops markers, unescapes, and swaps ``-`` for ``•``.
A Markdown chunk within the limit therefore becomes a message within the limit,
whether it is sent as HTML or, when Telegram rejects the HTML, as the raw chunk.
Splitting the HTML instead would mean cutting through tags and entities. The
default limit of 4000 leaves headroom under 4096 for anything the sender adds.

Where a chunk ends, in order of preference: a paragraph boundary (a blank line,
or the edge of a code block), a line break, a space, and as a last resort a hard
cut. A chunk never ends inside a fence's own marker line. When it ends inside a
fenced code block, the fence is closed at the end of the chunk and reopened,
with the same language, at the start of the next; those added lines count
toward the limit (and may take at most half of it, so at tiny limits a long
language tag is dropped from the reopening line). Whitespace at a cut may be
dropped; nothing else is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from roost.channels.telegram.formatting import Fence, fence_opening

__all__ = ["DEFAULT_LIMIT", "MIN_LIMIT", "split_message"]

DEFAULT_LIMIT = 4000
MIN_LIMIT = 32
"""Below this there is no room to carry a code fence across a cut."""

_PARAGRAPH = 2
_LINE = 1

Role = Literal["prose", "open", "body", "close"]


@dataclass
class _Line:
    text: str
    role: Role
    fence: Fence | None = None
    """The code block an open/body/close line belongs to."""
    reopening: str = ""
    """The line that reopens that block after a cut."""

    @property
    def blank(self) -> bool:
        return not self.text.strip()


def split_message(text: str, limit: int = DEFAULT_LIMIT) -> list[str]:
    """Split Markdown ``text`` into non-empty chunks of at most ``limit`` characters."""
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT}, got {limit}")
    if len(text) <= limit:
        return [text] if text.strip() else []
    return _Splitter(_annotate(text, limit), limit).chunks()


def _annotate(text: str, limit: int) -> list[_Line]:
    """Tag each line with its role in fenced code blocks."""
    lines: list[_Line] = []
    fence: Fence | None = None
    reopening = ""
    for line in text.split("\n"):
        if fence is None:
            opened = fence_opening(line)
            carried = _reopening(opened, line, limit) if opened is not None else None
            if opened is not None and carried is not None:
                fence, reopening = opened, carried
                lines.append(_Line(line, "open", fence, reopening))
            else:
                lines.append(_Line(line, "prose"))
        elif fence.closes(line):
            lines.append(_Line(line, "close", fence, reopening))
            fence = None
        else:
            lines.append(_Line(line, "body", fence, reopening))
    return lines


def _reopening(fence: Fence, opening_line: str, limit: int) -> str | None:
    """The line that reopens ``fence`` in the next chunk, or None if the fence cannot be
    carried at all (then its lines are split like prose).

    Fence lines added at a cut may take at most half the limit, so a chunk always has
    room for content. At tiny limits the language is dropped; only absurd markup (a
    marker or info string of hundreds of characters) cannot be carried.
    """
    budget = limit // 2
    if len(opening_line) > budget:
        return None
    for candidate in (fence.marker + fence.language, fence.marker):
        if len(candidate) + len(fence.marker) + 2 <= budget:
            return candidate
    return None


def _closing_cost(line: _Line) -> int:
    """Characters needed to close the fence if the chunk ended after ``line``."""
    if line.role == "body" and line.fence is not None:
        return 1 + len(line.fence.marker)
    return 0


def _cut_level(before: _Line, after: _Line) -> int | None:
    """How good a cut between two lines is; None where it would split fence markup."""
    if before.role == "open" or after.role == "close":
        return None
    if after.role == "open" or before.role == "close":
        return _PARAGRAPH
    if before.blank and not after.blank:
        return _PARAGRAPH
    return _LINE


class _Splitter:
    def __init__(self, lines: list[_Line], limit: int) -> None:
        self.lines = lines
        self.limit = limit

    def chunks(self) -> list[str]:
        chunks: list[str] = []
        start = 0
        carried: _Line | None = None
        while True:
            if carried is None:
                while start < len(self.lines) and self.lines[start].blank:
                    start += 1  # blank prose between paragraphs is where we cut
            if start >= len(self.lines):
                return chunks
            end = self._chunk_end(start, carried)
            # A piece of code that is only blank lines would be an empty message once
            # Telegram trims it: skip it (the fences around it were added, not written).
            if any(not line.blank for line in self.lines[start:end]):
                chunks.append(self._render(start, end, carried))
            carried = self._fence_across(end)
            start = end

    def _fence_across(self, end: int) -> _Line | None:
        """A line of the code block a cut before line ``end`` falls inside, if any."""
        if 0 < end < len(self.lines):
            before, after = self.lines[end - 1], self.lines[end]
            if before.role == "body" and after.role == "body":
                return before
        return None

    def _render(self, start: int, end: int, carried: _Line | None) -> str:
        texts = [line.text for line in self.lines[start:end]]
        while (
            texts and not texts[-1].strip() and self.lines[start + len(texts) - 1].role == "prose"
        ):
            texts.pop()
        if carried is not None:
            texts.insert(0, carried.reopening)
        closing = self._fence_across(end)
        if closing is not None and closing.fence is not None:
            texts.append(closing.fence.marker)
        return "\n".join(texts)

    def _chunk_end(self, start: int, carried: _Line | None) -> int:
        """Index of the first line of the next chunk, splitting a line in two if needed."""
        length = len(carried.reopening) if carried is not None else 0
        best: dict[int, int] = {}
        has_content = False  # fence lines alone would make a message of an empty code block
        contentless_cut: int | None = None
        j = start
        while j < len(self.lines):
            line = self.lines[j]
            separator = 1 if (carried is not None or j > start) else 0
            if length + separator + len(line.text) + _closing_cost(line) > self.limit:
                break
            length += separator + len(line.text)
            has_content = has_content or (line.role in ("prose", "body") and not line.blank)
            j += 1
            level = _cut_level(line, self.lines[j]) if j < len(self.lines) else None
            if level is not None and has_content:
                best[level] = j
            elif level is not None:
                contentless_cut = j
        if j == len(self.lines):
            return j
        if best:
            return best[max(best)]
        split = self._split_inside_line(start, j, length, carried)
        if split is not None:
            return split
        if contentless_cut is not None:
            return contentless_cut
        return self._forced_cut(start, j, length, carried)

    def _split_inside_line(
        self, start: int, j: int, length: int, carried: _Line | None
    ) -> int | None:
        """No line boundary works: cut a line in two (at a space, else hard) and end there.

        Usually the cut line is ``j``, the first that did not fit. A closing fence
        line cannot be cut, so then the body line before it is cut instead, leaving
        its tail to open the next chunk with the closing fence.
        """
        k = j
        if self.lines[j].role == "close" and j - 1 >= start and self.lines[j - 1].role == "body":
            k = j - 1
            length -= len(self.lines[k].text) + (1 if (carried is not None or k > start) else 0)
        line = self.lines[k]
        separator = 1 if (carried is not None or k > start) else 0
        available = self.limit - length - separator - _closing_cost(line)
        if available < 1 or len(line.text) < 2:
            return None
        self._cut_line(k, available)
        return k + 1

    def _forced_cut(self, start: int, j: int, length: int, carried: _Line | None) -> int:
        """Only absurd markup gets here: end the chunk wherever the budget allows."""
        if j > start:
            return j
        separator = 1 if carried is not None else 0
        self._cut_line(j, max(1, self.limit - length - separator))
        return j + 1

    def _cut_line(self, k: int, available: int) -> None:
        line = self.lines[k]
        head, tail = _cut_text(line.text, available)
        self.lines[k : k + 1] = [replace(line, text=head), replace(line, text=tail)]


def _cut_text(text: str, available: int) -> tuple[str, str]:
    """Cut ``text`` so the head has at most ``available`` characters: at the last
    space that leaves a non-blank head, else exactly at ``available``."""
    space = max(text.rfind(" ", 0, available + 1), text.rfind("\t", 0, available + 1))
    if space > 0 and text[:space].strip():
        return text[:space].rstrip(" \t"), text[space:].lstrip(" \t")
    cut = min(available, len(text) - 1)
    return text[:cut], text[cut:]
