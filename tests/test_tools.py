"""The file tools and their confinement to the workspace."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from roost.providers.base import ToolCall
from roost.tools.builtin import builtin_registry
from roost.tools.registry import ToolContext, ToolOutcome

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
    assert (read.text, read.is_error) == ("buy milk", False)
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
