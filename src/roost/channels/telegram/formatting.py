"""Turn the Markdown an LLM writes into the HTML subset Telegram accepts (parse_mode=HTML).

Why HTML and not MarkdownV2: MarkdownV2 wants 18 punctuation characters escaped
everywhere and rejects the whole message over a single stray ``_``, while HTML
only needs ``<``, ``>`` and ``&`` escaped. That makes a *total* conversion
possible: whatever the model wrote, the output is well-formed HTML using only
``b``, ``i``, ``s``, ``code``, ``pre`` and ``a``, properly nested.

The dialect is deliberately small and forgiving; anything not recognised stays
literal text:

- Blocks, line by line: fenced code (```` ``` ```` or ``~~~``, an unclosed fence
  runs to the end as in CommonMark), ``#`` headings (a bold line), bullets
  (``-``/``*``/``+`` become ``•``), horizontal rules.
- Inline, within one line (emphasis never spans lines, so a marker the model
  forgot to close can only ever affect its own line): code spans, links,
  ``**bold**``/``__bold__``, ``*italic*``/``_italic_``, ``***both***``,
  ``~~strike~~``, backslash escapes.
- ``_`` only opens emphasis at the start of a word and only closes it at the end
  of one, so ``snake_case`` and ``a_b_c`` stay as written (and ``__init__``,
  ``obj.__x__`` or ``__x__(`` are Python names, not bold); ``*`` needs a
  non-space after an opener and before a closer, so ``2 * 3`` and ``2*3*4`` stay.
- Bare URLs are copied verbatim (Telegram links them itself), so underscores
  and asterisks inside them never turn into emphasis.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

__all__ = ["Fence", "escape_html", "fence_opening", "markdown_to_html"]

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>`{3,}|~{3,})(?P<info>.*)$")
_LANGUAGE_CHARS = re.compile(r"[^A-Za-z0-9_+#.-]")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(?P<title>.*?)(?:[ \t]+#+)?[ \t]*$")
_HORIZONTAL_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_BULLET = re.compile(r"^(?P<indent>[ \t]*)[-*+][ \t]+(?P<item>.*)$")
_LINK = re.compile(
    r"\[(?P<text>[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*)\]"
    r"\(\s*(?:<(?P<angled>[^<>\s]*)>|(?P<url>[^\s()]*(?:\([^\s()]*\)[^\s()]*)*))"
    r"(?:\s+\"[^\"]*\")?\s*\)"
)
_AUTOLINK = re.compile(r"<(?P<url>(?:https?|tg|mailto):[^\s<>]+)>", re.IGNORECASE)
_BARE_URL = re.compile(r"(?:https?|tg)://[^\s<>]+", re.IGNORECASE)
_SAFE_URL = re.compile(r"^(?:https?|tg|mailto):\S+$", re.IGNORECASE)
_IDENTIFIER = re.compile(r"\w+")
_COMMON_DUNDERS = (
    "init new del repr str call enter exit aenter aexit iter next aiter anext len getitem "
    "setitem getattr setattr dict slots class name main file doc all module eq hash "
    "post_init future version"
)
_DUNDER_NAMES = frozenset(_COMMON_DUNDERS.split())
_ESCAPABLE = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


@dataclass(frozen=True)
class Fence:
    """The opening line of a fenced code block."""

    indent: str
    marker: str
    """The run of backticks or tildes, e.g. ```` ``` ````."""
    info: str

    @property
    def language(self) -> str:
        """The first word of the info string, reduced to characters safe in a class name."""
        words = self.info.split()
        return _LANGUAGE_CHARS.sub("", words[0]) if words else ""

    def closes(self, line: str) -> bool:
        """Whether ``line`` ends this block: the same character, at least as many, nothing else."""
        stripped = line.strip()
        return len(stripped) >= len(self.marker) and set(stripped) == {self.marker[0]}


def fence_opening(line: str) -> Fence | None:
    """The fence ``line`` opens, or None. Shared with chunking so both agree on what code is."""
    match = _FENCE_OPEN.match(line.rstrip("\r"))
    if match is None:
        return None
    marker, info = match["marker"], match["info"].strip()
    if marker[0] == "`" and "`" in info:
        return None  # ```x``` on one line is an inline code span, not a fence
    return Fence(match["indent"], marker, info)


def escape_html(text: str) -> str:
    """Escape the three characters Telegram's HTML parser treats specially."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_to_html(text: str) -> str:
    """Convert Markdown to well-formed Telegram HTML; unrecognised syntax stays literal."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        fence = fence_opening(lines[i])
        if fence is None:
            out.append(_render_line(lines[i]))
            i += 1
            continue
        body: list[str] = []
        i += 1
        while i < len(lines) and not fence.closes(lines[i]):
            body.append(_dedent(lines[i], len(fence.indent)))
            i += 1
        i += 1  # the closing fence (or past the end, for an unclosed one)
        out.append(_code_block(body, fence.language))
    return "\n".join(out)


def _dedent(line: str, width: int) -> str:
    """Drop up to ``width`` leading spaces: an indented fence's body is indented alike."""
    stripped = line.lstrip(" ")
    return line[min(width, len(line) - len(stripped)) :]


def _code_block(body: list[str], language: str) -> str:
    code = escape_html("\n".join(body).rstrip("\n"))
    if language:
        return f'<pre><code class="language-{language}">{code}</code></pre>'
    return f"<pre>{code}</pre>"


def _render_line(line: str) -> str:
    if _HORIZONTAL_RULE.match(line):
        # No longer than the source line, so the visible text never outgrows the Markdown.
        return "─" * min(len(line.strip()), 12)
    heading = _HEADING.match(line)
    if heading and heading["title"]:
        return f"<b>{_inline(heading['title'], frozenset({'b'}))}</b>"
    bullet = _BULLET.match(line)
    if bullet:
        return f"{bullet['indent']}• {_inline(bullet['item'], frozenset())}"
    return _inline(line, frozenset())


def _inline(line: str, active: frozenset[str]) -> str:
    return _InlineLine(line).render(0, len(line), active)


class _InlineLine:
    """One line's inline Markdown, tokenised once so that every lookup is cheap.

    Rendering works on ranges of the line rather than on substrings, so a marker's
    neighbours are always its real neighbours and finding a closer is a bisection,
    not a rescan: rendering stays linear-ish even on adversarial lines.
    """

    def __init__(self, line: str) -> None:
        self.s = line
        self.escapes: set[int] = set()
        """Positions of backslashes that escape the next character."""
        self.code_spans: dict[int, int] = {}
        """Opening backtick index -> index just after the closing run."""
        self.runs: dict[int, int] = {}
        """Start -> length of each run of ``*``, ``_`` or ``~`` outside code and escapes."""
        self._closers: dict[tuple[str, int], list[int]] = {}
        self._tokenise()

    def _tokenise(self) -> None:
        s, i = self.s, 0
        while i < len(s):
            c = s[i]
            if c == "\\" and i + 1 < len(s) and s[i + 1] in _ESCAPABLE:
                self.escapes.add(i)
                i += 2
            elif c in "`*_~":
                run = _run_length(s, i)
                span_end = _code_span_end(s, i, run) if c == "`" else None
                if span_end is not None:
                    self.code_spans[i] = span_end
                    i = span_end
                    continue
                if c != "`":
                    self.runs[i] = run
                i += run
            else:
                i += 1

    def render(self, lo: int, hi: int, active: frozenset[str]) -> str:
        """HTML for ``s[lo:hi]``; ``active`` holds the tags already open around it, which
        are not opened again (``<b><b>`` gains nothing, and links cannot nest)."""
        s, out, i = self.s, [], lo
        while i < hi:
            rendered = self._construct(i, hi, active)
            if rendered is not None:
                html, i = rendered
                out.append(html)
            elif i in self.escapes and i + 1 < hi:
                out.append(escape_html(s[i + 1]))
                i += 2
            elif s[i] in "`*_~":
                run = min(_run_length(s, i), hi - i)  # an unmatched run stays literal, whole
                out.append(s[i : i + run])
                i += run
            else:
                out.append(escape_html(s[i]))
                i += 1
        return "".join(out)

    def _construct(self, i: int, hi: int, active: frozenset[str]) -> tuple[str, int] | None:
        """The construct starting at ``s[i]`` as (html, end index), or None if there is none."""
        s, c = self.s, self.s[i]
        if c == "`":
            end = self.code_spans.get(i)
            return _code_html(s, i, end) if end is not None and end <= hi else None
        if i in self.runs:
            return self._emphasis(i, hi, active)
        if c == "[" and "a" not in active:
            return self._link(i, hi, active)
        if c == "<" and "a" not in active:
            auto = _AUTOLINK.match(s, i, hi)
            if auto:
                url = auto["url"]
                return f'<a href="{_escape_attribute(url)}">{escape_html(url)}</a>', auto.end()
        if c in "htHT" and (i == 0 or not s[i - 1].isalnum()):
            bare = _BARE_URL.match(s, i, hi)
            if bare:
                return escape_html(bare.group()), bare.end()
        return None

    def _emphasis(self, i: int, hi: int, active: frozenset[str]) -> tuple[str, int] | None:
        s = self.s
        run = min(self.runs[i], hi - i)
        tags = _emphasis_tags(s[i], run)
        if tags is None or not _can_open(s, i, run):
            return None
        close = self._closer(s[i], run, i + run, hi)
        if close is None or _is_dunder(s, i, close, run):
            return None
        inner = self.render(i + run, close, active | set(tags))
        for tag in reversed(tags):
            if tag not in active:
                inner = f"<{tag}>{inner}</{tag}>"
        return inner, close + run

    def _closer(self, char: str, run: int, start: int, hi: int) -> int | None:
        """The first run after ``start`` (so emphasis is never empty) that can close."""
        key = (char, run)
        positions = self._closers.get(key)
        if positions is None:
            positions = self._closers[key] = [
                j
                for j, length in self.runs.items()  # insertion order is left to right
                if length == run and self.s[j] == char and _can_close(self.s, j, run)
            ]
        k = bisect.bisect_right(positions, start)
        if k < len(positions) and positions[k] + run <= hi:
            return positions[k]
        return None

    def _link(self, i: int, hi: int, active: frozenset[str]) -> tuple[str, int] | None:
        match = _LINK.match(self.s, i, hi)
        if match is None:
            return None
        url = match["angled"] if match["angled"] is not None else match["url"]
        if not _SAFE_URL.match(url):
            return None  # javascript:, relative paths…: the caller leaves the text literal
        if match["text"].strip():
            label = self.render(match.start("text"), match.end("text"), active | {"a"})
        else:
            label = escape_html(url)
        return f'<a href="{_escape_attribute(url)}">{label}</a>', match.end()


def _run_length(s: str, i: int) -> int:
    end = i
    while end < len(s) and s[end] == s[i]:
        end += 1
    return end - i


def _code_span_end(s: str, i: int, run: int) -> int | None:
    """End of the code span opened by ``run`` backticks at ``i``: the next run as long."""
    j = i + run
    while (k := s.find("`", j)) != -1:
        close_run = _run_length(s, k)
        if close_run == run:
            return k + run
        j = k + close_run
    return None


def _code_html(s: str, start: int, end: int) -> tuple[str, int]:
    run = _run_length(s, start)
    content = s[start + run : end - run]
    if len(content) > 2 and content[0] == content[-1] == " " and content.strip():
        content = content[1:-1]  # CommonMark: one padding space each side is dropped
    return f"<code>{escape_html(content)}</code>", end


def _is_dunder(s: str, start: int, close: int, run: int) -> bool:
    """Whether ``__name__`` here is a Python dunder rather than a bold word: a well-known
    one, or any identifier used like code (``obj.__x__``, ``__x__(``, ``__x__.py``)."""
    if s[start] != "_" or run < 2:
        return False
    name = _IDENTIFIER.fullmatch(s, start + run, close)
    if name is None:
        return False
    before = s[start - 1] if start > 0 else ""
    after = s[close + run] if close + run < len(s) else ""
    return name.group() in _DUNDER_NAMES or before == "." or after in ("(", ".")


def _emphasis_tags(char: str, run: int) -> tuple[str, ...] | None:
    if char == "~":
        return ("s",) if run == 2 else None
    return {1: ("i",), 2: ("b",), 3: ("b", "i")}.get(run)


def _can_open(s: str, i: int, run: int) -> bool:
    after = i + run
    if after >= len(s) or s[after].isspace():
        return False
    prev = s[i - 1] if i > 0 else ""
    if s[i] == "_" and prev.isalnum():
        return False  # inside a word: snake_case
    return not _between_digits(s, i, run)


def _can_close(s: str, j: int, run: int) -> bool:
    if j == 0 or s[j - 1].isspace():
        return False
    nxt = s[j + run] if j + run < len(s) else ""
    if s[j] == "_" and nxt.isalnum():
        return False
    return not _between_digits(s, j, run)


def _between_digits(s: str, i: int, run: int) -> bool:
    """A single ``*`` between digits is multiplication (``2*3``), not emphasis."""
    if s[i] != "*" or run != 1 or i == 0 or i + 1 >= len(s):
        return False
    return s[i - 1].isdigit() and s[i + 1].isdigit()


def _escape_attribute(value: str) -> str:
    return escape_html(value).replace('"', "&quot;")
