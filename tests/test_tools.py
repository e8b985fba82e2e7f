"""The file tools and their confinement to the workspace."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import pytest

from roost.app import App
from roost.providers.base import ToolCall
from roost.tools.builtin import builtin_registry
from roost.tools.registry import ToolContext, ToolOutcome
from roost.tools.untrusted import untrusted
from tests.fakes.llm_server import FakeLLM

ALL = ("read_file", "write_file", "list_files")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


async def call(workspace: Path, name: str, arguments: dict[str, object] | str) -> ToolOutcome:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    context = ToolContext("a", "s", workspace)
    return await builtin_registry().run(ToolCall("id1", name, raw), context, ALL)


async def test_write_read_and_list(workspace: Path) -> None:
    written = await call(workspace, "write_file", {"path": "notes/todo.md", "content": "buy milk"})
    assert not written.is_error and "8 bytes" in written.text
    assert (workspace / "notes" / "todo.md").read_text() == "buy milk"
    read = await call(workspace, "read_file", {"path": "notes/todo.md"})
    # What a file says is data, not the owner's words: marked as such for the model.
    assert (read.text, read.is_error) == (untrusted("file notes/todo.md", "buy milk"), False)
    listing = await call(workspace, "list_files", {})
    assert listing.text == "notes/"
    assert (await call(workspace, "list_files", {"path": "notes"})).text == "todo.md (8 B)"


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        ("read_file", "../secret.txt", "'..' is not allowed"),
        ("read_file", "a/../../secret.txt", "'..' is not allowed"),
        ("read_file", "/etc/passwd", "absolute paths are not allowed"),
        ("write_file", "~/evil", "absolute paths are not allowed"),
        ("list_files", "..", "'..' is not allowed"),
    ],
)
async def test_paths_outside_the_workspace_are_refused(
    workspace: Path, name: str, path: str, expected: str
) -> None:
    (workspace.parent / "secret.txt").write_text("top secret")
    arguments: dict[str, object] = {"path": path}
    if name == "write_file":
        arguments["content"] = "x"
    outcome = await call(workspace, name, arguments)
    assert outcome.is_error and expected in outcome.text
    assert "top secret" not in outcome.text


async def test_symlinks_leading_outside_are_refused(workspace: Path) -> None:
    outside = workspace.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    os.symlink(outside, workspace / "escape")
    os.symlink(outside / "secret.txt", workspace / "link.txt")
    for arguments in ({"path": "escape/secret.txt"}, {"path": "link.txt"}):
        outcome = await call(workspace, "read_file", arguments)
        assert outcome.is_error and "outside the workspace" in outcome.text
    outcome = await call(workspace, "write_file", {"path": "escape/new.txt", "content": "x"})
    assert outcome.is_error and not (outside / "new.txt").exists()
    (workspace / "inner").mkdir()
    os.symlink(workspace / "inner", workspace / "ok")
    assert not (await call(workspace, "list_files", {"path": "ok"})).is_error


async def test_errors_come_back_as_tool_results(workspace: Path) -> None:
    missing = await call(workspace, "read_file", {"path": "nope.txt"})
    assert missing.is_error and "does not exist" in missing.text
    bad_args = await call(workspace, "write_file", {"path": "a.txt"})
    assert bad_args.is_error and "content: Field required" in bad_args.text
    bad_json = await call(workspace, "read_file", '{"path": ')
    assert bad_json.is_error and "not valid JSON" in bad_json.text
    unknown = await call(workspace, "delete_everything", {})
    assert unknown.is_error and "unknown tool 'delete_everything'" in unknown.text


async def test_tools_not_granted_to_the_agent_are_unknown(workspace: Path) -> None:
    context = ToolContext("a", "s", workspace)
    call_ = ToolCall("id", "write_file", '{"path": "x", "content": "y"}')
    outcome = await builtin_registry().run(call_, context, ["read_file"])
    assert outcome.is_error and not (workspace / "x").exists()


async def test_large_files_are_truncated(workspace: Path) -> None:
    (workspace / "big.txt").write_text("x" * 150_000)
    outcome = await call(workspace, "read_file", {"path": "big.txt"})
    assert "[truncated" in outcome.text and len(outcome.text) < 101_000


def test_tool_schemas_are_compact() -> None:
    registry = builtin_registry()
    specs = registry.specs(ALL)
    encoded = json.dumps([[s.name, s.description, s.input_schema] for s in specs])
    assert "title" not in encoded
    assert len(encoded) < 800
    assert specs[1].input_schema["required"] == ["path", "content"]


async def test_an_unexpected_exception_in_a_tool_is_a_result_not_a_crash(
    workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from pydantic import BaseModel

    from roost.tools.registry import Tool, ToolRegistry

    class NoArgs(BaseModel):
        pass

    async def explode(context: ToolContext, args: NoArgs) -> str:
        raise RuntimeError("disk on fire")

    registry = ToolRegistry([Tool("explode", "Fails.", NoArgs, explode)])
    outcome = await registry.run(
        ToolCall("id", "explode", "{}"), ToolContext("a", "s", workspace), ["explode"]
    )
    assert outcome.is_error and outcome.text == "explode failed: RuntimeError: disk on fire"
    assert any("tool explode failed" in record.message for record in caplog.records)


async def test_a_dangling_symlink_does_not_hide_the_rest_of_the_directory(workspace: Path) -> None:
    (workspace / "a.txt").write_text("hello")
    os.symlink(workspace / "gone.txt", workspace / "dangling")
    (workspace / "sub").mkdir()
    os.symlink(workspace / "sub", workspace / "sublink")
    os.symlink(workspace / "a.txt", workspace / "alias.txt")
    outcome = await call(workspace, "list_files", {})
    assert not outcome.is_error
    assert outcome.text.splitlines() == [
        "a.txt (5 B)",
        "alias.txt (5 B)",
        "dangling -> (broken link)",
        "sub/",
        "sublink/",
    ]


async def test_links_leading_outside_are_listed_without_following_them(workspace: Path) -> None:
    outside = workspace.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("x" * 12345)
    os.symlink(outside / "secret.txt", workspace / "file-link")
    os.symlink(outside, workspace / "dir-link")
    outcome = await call(workspace, "list_files", {})
    assert outcome.text.splitlines() == [
        "dir-link -> (link leading outside the workspace)",
        "file-link -> (link leading outside the workspace)",
    ]
    assert "12345" not in outcome.text


@pytest.mark.parametrize("name", ["read_file", "write_file"])
async def test_a_fifo_is_refused_without_blocking(workspace: Path, name: str) -> None:
    os.mkfifo(workspace / "pipe")
    arguments: dict[str, object] = {"path": "pipe"}
    if name == "write_file":
        arguments["content"] = "x"
    # Without the check, opening the FIFO blocks its worker thread for good.
    outcome = await asyncio.wait_for(call(workspace, name, arguments), timeout=5)
    assert outcome.is_error and "'pipe' is not a regular file" in outcome.text
    listing = await call(workspace, "list_files", {})
    assert listing.text == "pipe (fifo, not a regular file)"


async def test_hard_links_are_refused_for_reading_and_writing(workspace: Path) -> None:
    outside = workspace.parent / "outside.txt"
    outside.write_text("outside data")
    os.link(outside, workspace / "planted.txt")
    read = await call(workspace, "read_file", {"path": "planted.txt"})
    assert read.is_error and "has 2 hard links" in read.text
    assert "outside data" not in read.text
    written = await call(workspace, "write_file", {"path": "planted.txt", "content": "pwned"})
    assert written.is_error and "has 2 hard links" in written.text
    assert outside.read_text() == "outside data"


async def test_expected_tool_errors_are_logged_as_one_line(
    workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="roost.tools")
    (workspace / "file").write_text("x")
    await call(workspace, "read_file", {"path": "missing.txt"})
    await call(workspace, "read_file", {"path": "../x"})
    outcome = await call(workspace, "write_file", {"path": "file/inside.txt", "content": "x"})
    assert (
        outcome.is_error
        and "cannot write 'file/inside.txt': part of the path is a file" in outcome.text
    )
    records = [record for record in caplog.records if record.name.startswith("roost.tools")]
    assert len(records) == 3
    assert all(record.exc_info is None and "\n" not in record.getMessage() for record in records)
    assert "'missing.txt' does not exist" in records[0].getMessage()


async def test_unencodable_content_is_refused(workspace: Path) -> None:
    outcome = await call(workspace, "write_file", '{"path": "a.txt", "content": "x\\ud800"}')
    assert outcome.is_error and "not valid text" in outcome.text
    assert not (workspace / "a.txt").exists()


async def test_listings_are_capped(workspace: Path) -> None:
    for index in range(520):
        (workspace / f"{index:04d}-{'n' * 200}").touch()
    outcome = await call(workspace, "list_files", {})
    assert len(outcome.text) < 51_000
    assert outcome.text.endswith("more entries not shown: listing too long]")
    for index in range(520, 600):
        (workspace / f"{index:04d}").touch()
    (workspace / "sub").mkdir()
    for index in range(510):
        (workspace / "sub" / f"{index:04d}").touch()
    outcome = await call(workspace, "list_files", {"path": "sub"})
    assert outcome.text.endswith("[10 more entries not shown]")
    assert len(outcome.text.splitlines()) == 501


async def test_a_turn_asking_for_a_fifo_or_a_hard_link_ends_and_the_model_reads_why(
    app: App, fake_llm: FakeLLM
) -> None:
    workspace = app.settings.agents["assistant"].workspace
    workspace.mkdir(parents=True, exist_ok=True)
    os.mkfifo(workspace / "pipe")
    outside = workspace.parent / "outside.txt"
    outside.write_text("outside data")
    os.link(outside, workspace / "planted.txt")
    fake_llm.tool_call("read_file", {"path": "pipe"})
    fake_llm.tool_call("write_file", {"path": "planted.txt", "content": "pwned"})
    fake_llm.reply("Could not.")
    result = await asyncio.wait_for(app.ask("assistant", "read the pipe", "fifo"), timeout=30)
    assert result.ok and result.text == "Could not."
    assert "'pipe' is not a regular file" in json.dumps(fake_llm.requests[1].body)
    assert "'planted.txt' has 2 hard links" in json.dumps(fake_llm.requests[2].body)
    assert outside.read_text() == "outside data"
