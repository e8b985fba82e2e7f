"""Splitting Markdown into Telegram-sized chunks: preferred boundaries, carried code fences,
limits, and properties over generated documents."""

from __future__ import annotations

import random
import re
import time

import pytest

from roost.channels.telegram.chunking import DEFAULT_LIMIT, MIN_LIMIT, split_message
from roost.channels.telegram.formatting import fence_opening, markdown_to_html
from tests.fakes.telegram import parse_html

_FENCE_LINE = re.compile(r"^\s*(`{3,}|~{3,})")


def nonspace(text: str) -> str:
    return "".join(text.split())


def without_fence_lines(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not _FENCE_LINE.match(line))


def open_fence_at_end(chunk: str) -> str | None:
    """The opening line of a fence still open at the end of ``chunk``, if any."""
    fence, opener = None, None
    for line in chunk.split("\n"):
        if fence is None:
            fence = fence_opening(line)
            opener = line if fence else None
        elif fence.closes(line):
            fence, opener = None, None
    return opener


def assert_valid_chunks(text: str, chunks: list[str], limit: int) -> None:
    assert chunks, "non-blank text gives at least one chunk"
    for chunk in chunks:
        assert chunk.strip(), "no empty chunk"
        assert len(chunk) <= limit, (len(chunk), limit, chunk)
    for chunk in chunks[:-1]:
        assert open_fence_at_end(chunk) is None, ("fence left open", chunk)
    assert nonspace(without_fence_lines("\n".join(chunks))) == nonspace(without_fence_lines(text))


def test_default_limit_leaves_headroom_under_telegram_4096() -> None:
    assert DEFAULT_LIMIT == 4000


def test_short_text_is_one_unchanged_chunk() -> None:
    assert split_message("Hello **there**\n\n- a\n- b") == ["Hello **there**\n\n- a\n- b"]


def test_blank_text_gives_no_chunks() -> None:
    assert split_message("") == []
    assert split_message(" \n\n\t ") == []


def test_limit_below_minimum_is_refused() -> None:
    with pytest.raises(ValueError):
        split_message("text", MIN_LIMIT - 1)


def test_splits_at_paragraph_boundaries_first() -> None:
    paragraphs = [f"Paragraph {n} has some words in it." for n in range(6)]
    text = "\n\n".join(paragraphs)
    chunks = split_message(text, 80)
    assert_valid_chunks(text, chunks, 80)
    assert chunks == ["\n\n".join(paragraphs[i : i + 2]) for i in range(0, 6, 2)]


def test_prefers_a_paragraph_break_over_a_later_line_break() -> None:
    text = "first paragraph\n\nline one\nline two\nline three\nline four"
    chunks = split_message(text, 45)
    assert chunks[0] == "first paragraph"
    assert_valid_chunks(text, chunks, 45)


def test_many_small_lines_split_at_line_breaks() -> None:
    lines = [f"line {n:03d}" for n in range(200)]
    text = "\n".join(lines)
    chunks = split_message(text, 100)
    assert_valid_chunks(text, chunks, 100)
    assert [line for chunk in chunks for line in chunk.split("\n")] == lines


def test_long_paragraph_splits_between_words() -> None:
    rng = random.Random(3)
    words = ["".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 12))) for _ in range(900)]
    text = " ".join(words)
    chunks = split_message(text, 200)
    assert_valid_chunks(text, chunks, 200)
    assert [word for chunk in chunks for word in chunk.split()] == words
    assert all(len(chunk) > 180 for chunk in chunks[:-1]), "chunks are filled, not tiny"


def test_single_huge_word_is_hard_cut() -> None:
    word = "x" * 1000 + "y" * 1000
    chunks = split_message(word, 300)
    assert "".join(chunks) == word
    assert [len(c) for c in chunks] == [300] * 6 + [200]


def test_huge_word_inside_a_sentence_keeps_the_surrounding_words_whole() -> None:
    text = "start " + "z" * 250 + " end"
    chunks = split_message(text, 100)
    assert_valid_chunks(text, chunks, 100)
    assert chunks[0] == "start"
    assert chunks[-1].endswith(" end")


def test_code_block_longer_than_the_limit_is_closed_and_reopened() -> None:
    code = [f"    result_{n} = compute({n}) < limit & mask" for n in range(60)]
    text = "Here is the code:\n\n```python\n" + "\n".join(code) + "\n```\n\nDone."
    chunks = split_message(text, 300)
    assert_valid_chunks(text, chunks, 300)
    assert chunks[0] == "Here is the code:", "the paragraph before the block is its own chunk"
    code_chunks = [chunk for chunk in chunks if "```" in chunk]
    assert len(code_chunks) >= 8
    for chunk in code_chunks:
        lines = chunk.split("\n")
        assert lines[0] == "```python", "every piece reopens with the language"
        assert "```" in lines[1:], "every piece is closed"
    body = [
        line for chunk in chunks for line in chunk.split("\n") if line.startswith("    result_")
    ]
    assert body == code, "code lines survive whole and in order"
    assert chunks[-1].endswith("Done.")


def test_each_code_piece_converts_to_its_own_pre_block() -> None:
    text = "```sh\n" + "\n".join(f"echo {n} > /tmp/f{n}" for n in range(40)) + "\n```"
    for chunk in split_message(text, 150):
        html = markdown_to_html(chunk)
        assert html.startswith('<pre><code class="language-sh">echo ')
        assert html.endswith("</code></pre>")


def test_long_code_line_is_cut_inside_the_fence() -> None:
    text = "```\n" + "a" * 500 + "\n```"
    chunks = split_message(text, 120)
    assert_valid_chunks(text, chunks, 120)
    assert all(chunk.startswith("```\n") and chunk.endswith("\n```") for chunk in chunks)
    assert "".join(chunk[4:-4] for chunk in chunks) == "a" * 500


def test_cut_never_separates_a_fence_from_its_content() -> None:
    text = "x" * 50 + "\n```py\nprint(1)\n```\n" + "y" * 50
    for limit in range(MIN_LIMIT, 140):
        chunks = split_message(text, limit)
        assert_valid_chunks(text, chunks, limit)
        for chunk in chunks:
            lines = chunk.split("\n")
            assert lines[-1] != "```py", "no chunk ends with a bare opening fence"
            assert not (lines[0] == "```" and len(lines) == 1), "no chunk is a lone closing fence"


def test_unclosed_fence_at_the_end_is_carried_but_left_open() -> None:
    text = "```js\n" + "\n".join(f"let v{n} = {n};" for n in range(30))
    chunks = split_message(text, 100)
    assert_valid_chunks(text, chunks, 100)
    assert all(chunk.startswith("```js\n") for chunk in chunks)
    assert open_fence_at_end(chunks[-1]) == "```js"


def test_chunks_stay_within_telegram_limit_after_conversion() -> None:
    text = "\n\n".join(
        f"**Point {n}**: see [link](https://e.com/{n}) & `x<{n}>`" for n in range(300)
    )
    for chunk in split_message(text):
        visible = parse_html(markdown_to_html(chunk)).text
        assert len(visible) <= len(chunk) <= DEFAULT_LIMIT


def test_large_input_is_fast() -> None:
    text = ("word " * 40 + "\n") * 5000 + "```\n" + ("code line\n" * 5000) + "```"
    started = time.perf_counter()
    chunks = split_message(text)
    assert time.perf_counter() - started < 2.0
    assert_valid_chunks(text, chunks, DEFAULT_LIMIT)


# ----- properties over generated documents ----------------------------------------------


def _random_document(rng: random.Random) -> str:
    blocks: list[str] = []
    for _ in range(rng.randint(1, 12)):
        kind = rng.choice(["paragraph", "paragraph", "list", "code", "word", "lines"])
        if kind == "paragraph":
            words = rng.randint(1, 80)
            blocks.append(
                " ".join(
                    rng.choice(["lorem", "**ipsum**", "a_b", "x<y", "😀"]) for _ in range(words)
                )
            )
        elif kind == "list":
            blocks.append(
                "\n".join(
                    f"- item {n} " + "z" * rng.randint(0, 40) for n in range(rng.randint(1, 9))
                )
            )
        elif kind == "code":
            language = rng.choice(["", "python", "sh"])
            marker = rng.choice(["```", "~~~", "````"])
            body = "\n".join(
                " " * rng.randint(0, 8) + "c" * rng.randint(0, 90)
                for _ in range(rng.randint(0, 30))
            )
            closing = "" if rng.random() < 0.1 else f"\n{marker}"
            blocks.append(f"{marker}{language}\n{body}{closing}")
        elif kind == "word":
            blocks.append("w" * rng.randint(1, 700))
        else:
            blocks.append("\n".join("l" * rng.randint(0, 30) for _ in range(rng.randint(1, 20))))
    separator = rng.choice(["\n\n", "\n", "\n\n\n"])
    return separator.join(blocks)


@pytest.mark.parametrize("seed", range(300))
def test_random_documents_split_validly(seed: int) -> None:
    rng = random.Random(seed)
    text = _random_document(rng)
    limit = rng.choice([MIN_LIMIT, 40, 64, 100, 150, 300, 1000])
    chunks = split_message(text, limit)
    if not text.strip():
        assert chunks == []
        return
    assert_valid_chunks(text, chunks, limit)
    for chunk in chunks:
        visible = parse_html(markdown_to_html(chunk)).text
        assert len(visible) <= len(chunk)
