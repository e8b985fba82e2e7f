"""edit_file and search_files, and the file tools' handling of binary files and odd names."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from roost.providers.base import ToolCall
from roost.tools.builtin import builtin_registry
from roost.tools.registry import ToolContext, ToolOutcome
from roost.tools.untrusted import untrusted

ALL = ("read_file", "write_file", "list_files", "edit_file", "search_files")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


async def call(workspace: Path, name: str, arguments: dict[str, object]) -> ToolOutcome:
    context = ToolContext("a", "s", workspace)
    return await builtin_registry().run(ToolCall("id", name, json.dumps(arguments)), context, ALL)


async def edit(workspace: Path, path: str, old: str, new: str) -> ToolOutcome:
    return await call(workspace, "edit_file", {"path": path, "old": old, "new": new})


async def search(workspace: Path, **arguments: object) -> ToolOutcome:
    return await call(workspace, "search_files", arguments)


async def test_edit_replaces_one_exact_snippet(workspace: Path) -> None:
    (workspace / "a.py").write_text("x = 1\ny = 2\nz = 3\n")
    outcome = await edit(workspace, "a.py", "y = 2", "y = 20")
    assert (outcome.text, outcome.is_error) == ("edited a.py at line 2", False)
    assert (workspace / "a.py").read_text() == "x = 1\ny = 20\nz = 3\n"


async def test_edit_fails_clearly_when_the_snippet_is_absent_or_ambiguous(workspace: Path) -> None:
    (workspace / "a.py").write_text("x = 1\nx = 1\nx = 1\n")
    absent = await edit(workspace, "a.py", "y = 2", "y = 3")
    assert absent.is_error and "was not found in 'a.py'; nothing changed" in absent.text
    ambiguous = await edit(workspace, "a.py", "x = 1", "x = 2")
    assert ambiguous.is_error and "occurs 3 times in 'a.py'; nothing changed" in ambiguous.text
    assert (workspace / "a.py").read_text() == "x = 1\nx = 1\nx = 1\n"
    empty = await edit(workspace, "a.py", "", "x")
    assert empty.is_error and "old" in empty.text


@pytest.mark.parametrize("path", ["../secret.txt", "/etc/passwd", "link.txt", "escape/secret.txt"])
async def test_edit_stays_in_the_workspace(workspace: Path, path: str) -> None:
    outside = workspace.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    (workspace.parent / "secret.txt").write_text("top secret")
    os.symlink(outside / "secret.txt", workspace / "link.txt")
    os.symlink(outside, workspace / "escape")
    outcome = await edit(workspace, path, "top", "no")
    assert outcome.is_error
    assert (outside / "secret.txt").read_text() == "top secret"
    assert (workspace.parent / "secret.txt").read_text() == "top secret"


async def test_edit_refuses_hard_links_binary_and_huge_files(workspace: Path) -> None:
    outside = workspace.parent / "outside.txt"
    outside.write_text("outside data")
    os.link(outside, workspace / "planted.txt")
    linked = await edit(workspace, "planted.txt", "outside", "pwned")
    assert linked.is_error and "has 2 hard links" in linked.text
    assert outside.read_text() == "outside data"
    (workspace / "blob.bin").write_bytes(b"abc\x00def")
    binary = await edit(workspace, "blob.bin", "abc", "x")
    assert binary.is_error and "is a binary file (7 bytes)" in binary.text
    (workspace / "huge.txt").write_text("a" * 1_000_001)
    huge = await edit(workspace, "huge.txt", "a", "b")
    assert huge.is_error and "edits files up to 1000000 bytes" in huge.text


async def test_read_refuses_binary_files(workspace: Path) -> None:
    (workspace / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    outcome = await call(workspace, "read_file", {"path": "image.png"})
    assert outcome.is_error and "'image.png' is a binary file (16 bytes)" in outcome.text


async def test_names_with_line_breaks_cannot_be_written_and_are_listed_escaped(
    workspace: Path,
) -> None:
    written = await call(workspace, "write_file", {"path": "a\nb.txt (5 B)", "content": "x"})
    assert written.is_error and "line breaks and control characters" in written.text
    assert os.listdir(workspace) == []
    (workspace / "evil\nsecret.txt (9 B)").write_text("hello")
    listing = await call(workspace, "list_files", {})
    assert listing.text == "evil\\nsecret.txt (9 B) (5 B)"
    found = await search(workspace, query="hello")
    assert found.text == "evil\\nsecret.txt (9 B):1: hello"
    read = await call(workspace, "read_file", {"path": "evil\nsecret.txt (9 B)"})
    # The name is shown escaped in the untrusted marker too: it cannot break the label.
    assert read.text == untrusted("file evil\\nsecret.txt (9 B)", "hello")
    assert read.text.splitlines()[0] == '<untrusted source="file evil\\nsecret.txt (9 B)">'


async def test_search_finds_lines_with_their_numbers(workspace: Path) -> None:
    (workspace / "src").mkdir()
    (workspace / "src" / "a.py").write_text("import os\n\ndef main():\n    return os.getcwd()\n")
    (workspace / "notes.md").write_text("use os.getcwd here\n")
    (workspace / ".git").mkdir()
    (workspace / ".git" / "config").write_text("os.getcwd\n")
    outcome = await search(workspace, query="os.getcwd")
    assert outcome.text.splitlines() == [
        "notes.md:1: use os.getcwd here",
        "src/a.py:4: return os.getcwd()",
    ]
    only_py = await search(workspace, query="os", glob="*.py")
    assert only_py.text.splitlines() == ["src/a.py:1: import os", "src/a.py:4: return os.getcwd()"]
    in_dir = await search(workspace, query="os.getcwd", path="src")
    assert in_dir.text == "src/a.py:4: return os.getcwd()"
    assert (await search(workspace, query="nowhere")).text == "no matches"


async def test_search_with_a_regular_expression(workspace: Path) -> None:
    (workspace / "a.txt").write_text("Error 42\nerror 7\nfine\n")
    outcome = await search(workspace, query=r"(?i)error \d+$", regex=True)
    assert outcome.text.splitlines() == ["a.txt:1: Error 42", "a.txt:2: error 7"]
    bad = await search(workspace, query=r"(a)\1", regex=True)
    assert bad.is_error and "invalid regular expression" in bad.text and "RE2" in bad.text
    unclosed = await search(workspace, query="(", regex=True)
    assert unclosed.is_error and "missing )" in unclosed.text


async def test_a_catastrophic_pattern_does_not_hang(workspace: Path) -> None:
    # With a backtracking engine this takes longer than the universe has left.
    (workspace / "a.txt").write_text("a" * 50_000 + "!\n")
    outcome = await asyncio.wait_for(search(workspace, query="(a+)+$", regex=True), timeout=30)
    assert outcome.text == "no matches"


async def test_search_skips_links_out_binary_special_and_hard_linked_files(
    workspace: Path,
) -> None:
    outside = workspace.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("needle outside\n")
    os.symlink(outside / "secret.txt", workspace / "file-link")
    os.symlink(outside, workspace / "dir-link")
    os.link(outside / "secret.txt", workspace / "hard.txt")
    (workspace / "blob.bin").write_bytes(b"needle\x00")
    os.mkfifo(workspace / "pipe")
    (workspace / "ok.txt").write_text("needle inside\n")
    outcome = await asyncio.wait_for(search(workspace, query="needle"), timeout=30)
    assert outcome.text.splitlines() == [
        "ok.txt:1: needle inside",
        "[4 binary, linked or special files skipped]",
    ]


async def test_search_results_are_capped(workspace: Path) -> None:
    (workspace / "many.txt").write_text("hit\n" * 500)
    (workspace / "long.txt").write_text(("hit " + "y" * 1000 + "\n") * 5)
    outcome = await search(workspace, query="hit")
    lines = outcome.text.splitlines()
    assert lines[-1] == "[stopped at 100 matches; narrow the search]"
    assert all(len(line) < 330 for line in lines)
    (workspace / "big.txt").write_text("x\n" * 1_100_000 + "needle\n")
    big = await search(workspace, query="needle", glob="big.txt")
    assert big.text == "no matches\n[1 files longer than 2000000 bytes: start searched]"


async def test_search_stops_at_the_file_and_byte_caps_and_says_which(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
        (workspace / name).write_text("hit\n" * 5)
    monkeypatch.setattr("roost.tools.file_search.MAX_FILES", 3)
    files = await search(workspace, query="hit")
    assert files.text.splitlines()[-1] == "[stopped after looking at 3 files; narrow the search]"
    assert "d.txt" not in files.text
    monkeypatch.setattr("roost.tools.file_search.MAX_FILES", 100)
    monkeypatch.setattr("roost.tools.file_search.MAX_SCANNED_BYTES", 25)
    read = await search(workspace, query="hit")
    assert read.text.splitlines()[-1] == "[stopped after reading 40 bytes; narrow the search]"
    assert "c.txt" not in read.text


async def test_search_refuses_paths_out_and_files(workspace: Path) -> None:
    (workspace / "a.txt").write_text("x")
    out = await search(workspace, query="x", path="..")
    assert out.is_error and "'..' is not allowed" in out.text
    not_dir = await search(workspace, query="x", path="a.txt")
    assert not_dir.is_error and "is not a directory" in not_dir.text


def test_optional_arguments_cost_no_null_option_in_the_schema() -> None:
    (spec,) = builtin_registry().specs(["search_files"])
    assert spec.input_schema["properties"]["glob"] == {"type": "string", "description": "e.g. *.py"}
    assert spec.input_schema["required"] == ["query"]
    assert "anyOf" not in json.dumps(spec.input_schema)
