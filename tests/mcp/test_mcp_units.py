"""The pieces with no server: tool names, descriptions, schemas, results, and how an
agent's `tools:` entries select a server's tools."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from roost.config.mcp_servers import McpServerConfig
from roost.mcp.naming import DESCRIPTION_LIMIT_BYTES, check_tool, model_name, trim_description
from roost.mcp.results import result_text
from roost.mcp.server import describe
from roost.tools.registry import Tool, ToolContext, ToolRegistry
from roost.tools.untrusted import untrusted


def test_names_fit_the_providers_charset_and_stay_unique() -> None:
    taken: set[str] = set()
    assert model_name("fs", "read.file", taken) == "fs__read_file"
    assert model_name("fs", "read/file", taken) == "fs__read_file_2"
    long = model_name("srv", "x" * 100, taken)
    assert len(long) == 64 and long.startswith("srv__x")
    again = model_name("srv", "x" * 100, taken)
    assert len(again) == 64 and again.endswith("_2") and again != long


def test_descriptions_are_one_line_and_capped_in_bytes() -> None:
    assert trim_description("  Reads\n a   file. ") == "Reads a file."
    trimmed = trim_description("é" * 1000)
    assert len(trimmed.encode()) <= DESCRIPTION_LIMIT_BYTES and trimmed.endswith("…")


def test_schemas_must_be_small_object_schemas() -> None:
    assert check_tool("t", "d", {"type": "object"}).problem is None
    assert check_tool("t", "d", {"type": "string"}).problem == (
        "its input schema is not an object schema"
    )
    assert check_tool("t", "d", None).problem is not None
    huge = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(1000)}}
    assert "cap 8192" in (check_tool("t", "d", huge).problem or "")
    assert check_tool("", "d", {"type": "object"}).problem is not None
    bad = check_tool("evil\x1b[2J\nname", "d", {"type": "object"})
    assert bad.problem == "its name has control characters" and bad.name == "evil?[2J?name"


@dataclass
class Block:
    type: str
    text: str = ""
    mime_type: str | None = None


def test_results_join_text_name_other_parts_and_are_capped_and_marked() -> None:
    text = result_text("mcp:s/t", [Block("text", "a"), Block("image", mime_type="image/png")])
    assert text == untrusted("mcp:s/t", "a\n[image image/png not shown: only text is passed on]")
    capped = result_text("mcp:s/t", [Block("text", "x" * 50)], limit=10)
    assert capped == untrusted(
        "mcp:s/t", "x" * 10 + "\n[… 40 more characters cut: the result is capped at 10]"
    )
    assert result_text("mcp:s/t", []) == untrusted("mcp:s/t", "(no content)")


class NoArgs(BaseModel):
    pass


async def _nothing(context: ToolContext, args: NoArgs) -> str:
    return ""


def test_entries_with_a_colon_select_tools_by_grant() -> None:
    def remote(name: str, grant: str) -> Tool:
        return Tool(name, "d", NoArgs, _nothing, input_schema={"type": "object"}, grant=grant)

    registry = ToolRegistry(
        [
            Tool("read_file", "d", NoArgs, _nothing),
            remote("fs__read_a", "mcp:fs/read_a"),
            remote("fs__write", "mcp:fs/write"),
            remote("fsx__read_b", "mcp:fsx/read_b"),
        ]
    )
    assert registry.expand(["read_file", "mcp:fs"]) == ("read_file", "fs__read_a", "fs__write")
    assert registry.expand(["mcp:fs/read_*"]) == ("fs__read_a",)
    assert registry.expand(["mcp:fs*"]) == ()  # a server is named whole
    assert registry.expand(["mcp:fsx", "mcp:fsx/read_b"]) == ("fsx__read_b",)
    [spec] = registry.specs(["mcp:fs/write"])
    assert spec.name == "fs__write" and spec.input_schema == {"type": "object"}


def test_a_failure_never_quotes_a_header_or_env_secret() -> None:
    config = McpServerConfig.model_validate(
        {
            "url": "https://mcp.example/mcp?key=url-key-5566",
            "headers": {"Authorization": "Bearer tok-SECRET-1234", "X-Api-Key": "k-SECRET-99"},
        }
    )
    error = RuntimeError(
        "401 for 'https://mcp.example/mcp?key=url-key-5566': invalid token tok-SECRET-1234 "
        "(sent 'Bearer tok-SECRET-1234', key k-SECRET-99)"
    )
    said = describe(ExceptionGroup("one", [error]), config)
    assert said.startswith("RuntimeError: 401 for")
    for secret in ("tok-SECRET-1234", "k-SECRET-99", "url-key-5566"):
        assert secret not in said
