"""Markdown -> Telegram HTML: escaping, code, emphasis rules, links, and that every output
is HTML Telegram accepts (checked with html.parser and with the fake's Telegram parser)."""

from __future__ import annotations

import random
from collections import Counter
from html.parser import HTMLParser

import pytest

from roost.channels.telegram.formatting import markdown_to_html
from tests.fakes.telegram import parse_html

_ALLOWED_TAGS = {"b", "i", "s", "u", "code", "pre", "a"}
_ALLOWED_ENTITIES = {"lt", "gt", "amp", "quot"}


class _TelegramHtmlChecker(HTMLParser):
    """Collects every way ``html`` could be rejected by Telegram's parser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        if (
            self.stack
            and self.stack[-1] in ("code", "pre")
            and (tag, self.stack[-1])
            != (
                "code",
                "pre",
            )
        ):
            self.problems.append(f"<{tag}> inside <{self.stack[-1]}>")
        if tag == "a" and "a" in self.stack:
            self.problems.append("nested link")
        names = [name for name, _ in attrs]
        expected = {"a": ["href"], "code": ["class"]}.get(tag, [])
        if names and names != expected:
            self.problems.append(f"attributes {names} on <{tag}>")
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> does not close {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_entityref(self, name: str) -> None:
        if name not in _ALLOWED_ENTITIES:
            self.problems.append(f"entity &{name};")

    def handle_comment(self, data: str) -> None:
        self.problems.append("comment")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("declaration")

    def handle_pi(self, data: str) -> None:
        self.problems.append("processing instruction")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("unknown declaration")


def assert_telegram_html(html: str) -> str:
    """Fail unless ``html`` is well-formed Telegram HTML; return its visible text."""
    checker = _TelegramHtmlChecker()
    checker.feed(html)
    checker.close()
    assert not checker.problems, (checker.problems, html)
    assert not checker.stack, ("unclosed", checker.stack, html)
    return parse_html(html).text  # raises if Telegram's own rules reject it


def convert(markdown: str) -> str:
    html = markdown_to_html(markdown)
    assert_telegram_html(html)
    return html


# ----- escaping -------------------------------------------------------------------------


def test_escapes_angle_brackets_and_ampersands_everywhere() -> None:
    assert convert("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d"
    assert convert("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_text_that_looks_escaped_is_shown_literally() -> None:
    html = convert("write &amp; or &lt; literally")
    assert html == "write &amp;amp; or &amp;lt; literally"
    assert parse_html(html).text == "write &amp; or &lt; literally"


def test_escapes_inside_formatting() -> None:
    assert convert("**a<b>**") == "<b>a&lt;b&gt;</b>"


def test_plain_text_passes_through_unchanged() -> None:
    text = "Hello, world! It's 3 o'clock; 50% done (really) = fine?"
    assert convert(text) == text


def test_empty_text() -> None:
    assert markdown_to_html("") == ""


# ----- code -------------------------------------------------------------------------------


def test_fenced_code_block_keeps_content_escaped_and_unformatted() -> None:
    source = '```python\nif a < b & c:\n    print("**not bold** _x_")\n```'
    assert convert(source) == (
        '<pre><code class="language-python">if a &lt; b &amp; c:\n'
        '    print("**not bold** _x_")</code></pre>'
    )


def test_fence_without_language_is_a_bare_pre() -> None:
    assert convert("```\nx = 1\n```") == "<pre>x = 1</pre>"


def test_tilde_fence_and_text_around_it() -> None:
    html = convert("Before **b**\n~~~sh\nls -l > out\n~~~\nAfter")
    assert (
        html == 'Before <b>b</b>\n<pre><code class="language-sh">ls -l &gt; out</code></pre>\nAfter'
    )


def test_indented_fence_is_dedented() -> None:
    html = convert("1. Run:\n   ```bash\n   make test\n   ```")
    assert html == '1. Run:\n<pre><code class="language-bash">make test</code></pre>'


def test_unclosed_fence_runs_to_the_end() -> None:
    assert convert("intro\n```js\nlet a = 1 < 2;") == (
        'intro\n<pre><code class="language-js">let a = 1 &lt; 2;</code></pre>'
    )


def test_fence_closes_only_on_a_long_enough_marker() -> None:
    html = convert("````md\n```\ninner\n```\n````")
    assert html == '<pre><code class="language-md">```\ninner\n```</code></pre>'


def test_language_tag_cannot_inject_attributes() -> None:
    html = convert('```py"><b>x\ncode\n```')
    assert html == '<pre><code class="language-pybx">code</code></pre>'


def test_inline_code() -> None:
    assert convert("use `x < y && z` here") == "use <code>x &lt; y &amp;&amp; z</code> here"
    assert convert("`**not bold**` and `a_b_c`") == (
        "<code>**not bold**</code> and <code>a_b_c</code>"
    )
    assert convert("``a ` b``") == "<code>a ` b</code>"


def test_unclosed_backtick_stays_literal() -> None:
    assert convert("a `b c") == "a `b c"


def test_inline_triple_backticks_on_one_line_is_code() -> None:
    assert convert("run ```ls -a``` now") == "run <code>ls -a</code> now"


# ----- emphasis ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("**bold**", "<b>bold</b>"),
        ("__bold words__", "<b>bold words</b>"),
        ("__bold__", "<b>bold</b>"),
        ("*italic*", "<i>italic</i>"),
        ("_italic_", "<i>italic</i>"),
        ("~~gone~~", "<s>gone</s>"),
        ("***both***", "<b><i>both</i></b>"),
        ("a **b** c *d* e", "a <b>b</b> c <i>d</i> e"),
        ("*a **b** c*", "<i>a <b>b</b> c</i>"),
        ("**a *b* c**", "<b>a <i>b</i> c</b>"),
        ("**bold `code` bold**", "<b>bold <code>code</code> bold</b>"),
        ("中文**粗体**文字", "中文<b>粗体</b>文字"),
        ("(**x**)", "(<b>x</b>)"),
    ],
)
def test_emphasis(source: str, expected: str) -> None:
    assert convert(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "**unclosed bold",
        "*unclosed italic",
        "~~unclosed strike",
        "closing only**",
        "**a*",
        "a ~ b ~ c",
        "~single~",
        "** not emphasis **",
        "x * y *z",
        "a * b * c",
        "2*3*4 = 24",
        "a **** b",
    ],
)
def test_unbalanced_or_spaced_markers_stay_literal(source: str) -> None:
    assert convert(source) == source


@pytest.mark.parametrize(
    "source",
    [
        "snake_case_name",
        "call my_function_name(arg_one, arg_two)",
        "a_b_c and d_e",
        "__init__ is called",
        "see obj.__dict__ and __post_init__()",
        "open __main__.py",
        "_private",
        "file_name_",
    ],
)
def test_underscores_inside_words_and_dunders_stay_literal(source: str) -> None:
    assert convert(source) == source


def test_emphasis_never_spans_lines() -> None:
    assert convert("*starts here\nends here*") == "*starts here\nends here*"


def test_backslash_escapes_markers() -> None:
    assert convert(r"\*not italic\* and \_x\_ and \`y\`") == "*not italic* and _x_ and `y`"


def test_nested_same_tag_is_not_doubled() -> None:
    assert convert("# Title with **bold**") == "<b>Title with bold</b>"


# ----- links ------------------------------------------------------------------------------


def test_link() -> None:
    assert convert("see [the docs](https://example.com/a_b?x=1&y=2)") == (
        'see <a href="https://example.com/a_b?x=1&amp;y=2">the docs</a>'
    )


def test_link_href_quotes_are_escaped() -> None:
    html = convert('[x](https://e.com/?q="hi")')
    assert html == '<a href="https://e.com/?q=&quot;hi&quot;">x</a>'
    entity = parse_html(html).entities[0]
    assert entity["url"] == 'https://e.com/?q="hi"'


@pytest.mark.parametrize(
    "url", ["http://e.com", "https://e.com/p(1)", "tg://user?id=1", "mailto:a@b.c"]
)
def test_allowed_link_schemes(url: str) -> None:
    assert convert(f"[go]({url})") == f'<a href="{url}">go</a>'


@pytest.mark.parametrize(
    "source",
    ["[x](javascript:alert(1))", "[x](/relative/path)", "[x](file:///etc/passwd)", "[x]()"],
)
def test_other_links_stay_text(source: str) -> None:
    html = convert(source)
    assert "<a" not in html
    assert parse_html(html).text == source


def test_link_text_is_formatted_and_empty_text_shows_the_url() -> None:
    assert convert("[**b** `c`](http://x.y)") == '<a href="http://x.y"><b>b</b> <code>c</code></a>'
    assert convert("[](https://e.com)") == '<a href="https://e.com">https://e.com</a>'


def test_autolink() -> None:
    assert convert("<https://e.com/x>") == '<a href="https://e.com/x">https://e.com/x</a>'


def test_bare_urls_are_verbatim() -> None:
    source = "see https://e.com/a_b_c_/*x* and _this_"
    assert convert(source) == "see https://e.com/a_b_c_/*x* and <i>this</i>"


# ----- blocks -----------------------------------------------------------------------------


def test_headings_become_bold_lines() -> None:
    assert convert("# One\n### Three ###\ntext") == "<b>One</b>\n<b>Three</b>\ntext"


def test_hash_without_space_is_not_a_heading() -> None:
    assert convert("#hashtag and #1") == "#hashtag and #1"


def test_bullets() -> None:
    assert convert("- one\n* two **b**\n  + nested") == "• one\n• two <b>b</b>\n  • nested"


def test_numbered_list_and_blockquote_stay_plain() -> None:
    assert convert("1. first\n2. second\n> quoted") == "1. first\n2. second\n&gt; quoted"


def test_horizontal_rule_is_no_longer_than_its_source() -> None:
    assert convert("---") == "───"
    assert convert("* * *") == "─────"


# ----- properties over generated input ---------------------------------------------------

_PIECES = [
    "*", "**", "***", "_", "__", "~~", "~", "`", "``", "```", "[", "]", "(", ")", "<", ">",
    "&", "&amp;", "&lt;", '"', "'", "\\", "#", "# ", "- ", "* ", "+ ", "\n", "\n\n", " ",
    "  ", "a", "bc", "word", "snake_case", "__init__", "é", "😀", "中文", "2*3",
    "http://x.y/a_b", "https://e.com/*q*", "[t](https://e.com/?a=1&b=\"2\")",
    "[t](javascript:x)", "<https://x.org>", "\n```py\n", "\n```\n", "\n~~~\n", "---",
]  # fmt: skip


def _random_markdown(rng: random.Random) -> str:
    return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 60)))


@pytest.mark.parametrize("seed", range(400))
def test_any_input_gives_html_telegram_accepts(seed: int) -> None:
    source = _random_markdown(random.Random(seed))
    html = markdown_to_html(source)
    visible = assert_telegram_html(html)
    # The chunker relies on this: conversion never makes the visible text longer.
    assert len(visible) <= len(source), (source, html)
    # Nothing is invented: every letter and digit shown was in the source.
    shown = Counter(c for c in visible if c.isalnum())
    written = Counter(c for c in source if c.isalnum())
    assert not shown - written, (source, html)


def test_text_without_markup_characters_round_trips() -> None:
    rng = random.Random(7)
    alphabet = "abcdefghij XYZ 0123456789 .,;:!?'\"()/=%éß中😀"
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80)))
        html = convert(text)
        assert parse_html(html).text == text
