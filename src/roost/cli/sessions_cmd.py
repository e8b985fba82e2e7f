"""`roost sessions [AGENT]` and `roost history AGENT`: the stored conversations.

Both read the store directly, read-only (SQLite in WAL mode lets them run beside a
`roost run`, which keeps writing): what they show is what has been stored, which
includes what `roost run` has stored so far. `roost history` also shows messages
later turns leave out of the model's context (those of turns that found no provider),
marked as such.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from roost.cli.ask_cmd import DEFAULT_SESSION
from roost.cli.common import fail, load

if TYPE_CHECKING:
    from roost.config.settings import Settings
    from roost.store.database import Database
    from roost.store.transcripts import SessionSummary, TranscriptLine

T = TypeVar("T")
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
PREVIEW = 100
"""Characters of a tool call's arguments or a tool result shown by `roost history`."""
LEFT_OUT = "unanswered: no provider was configured; left out of the model's context"


def sessions(
    ctx: typer.Context,
    agent: Annotated[
        str | None, typer.Argument(help="Only this agent's sessions.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the conversations: agent, session, message count, last activity (newest first).

    roost sessions assistant
    """
    from roost.store.transcripts import session_summaries

    settings = load(ctx)
    found = _read(settings, lambda db: session_summaries(db, agent))
    if agent is not None and not found and agent not in settings.agents:
        fail(f"unknown agent '{agent}' (known: {', '.join(settings.agents)})")
    if as_json:
        print(json.dumps({"sessions": [_session_dict(s) for s in found]}, ensure_ascii=False))
        return
    if not found:
        print(f"no sessions{f' for {agent}' if agent else ''} yet")
        return
    rows = [("agent", "session", "messages", "last activity")]
    rows += [(s.agent, s.key, str(s.messages), _local(s.last_activity)) for s in found]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[3]]))


def history(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="The agent, e.g. assistant.")],
    session: Annotated[
        str, typer.Option("--session", "-s", help="The conversation (see roost sessions).")
    ] = DEFAULT_SESSION,
    limit: Annotated[int, typer.Option(help="How many of the newest messages.", min=1)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Show a conversation: its messages, oldest first, tool calls and results briefly.

    roost history assistant --session notes --limit 20
    """
    from roost.store.transcripts import transcript

    settings = load(ctx)
    found = _read(settings, lambda db: transcript(db, agent, session, limit))
    if found is None:
        if agent not in settings.agents:
            fail(f"unknown agent '{agent}' (known: {', '.join(settings.agents)})")
        fail(f"agent {agent} has no session '{session}' (see: roost sessions {agent})")
    lines, total = found
    if as_json:
        data = {
            "agent": agent,
            "session": session,
            "total": total,
            "messages": [_line_dict(line) for line in lines],
        }
        print(json.dumps(data, ensure_ascii=False))
        return
    print(f"{agent} · session {session} · {total} message(s)")
    if total > len(lines):
        print(f"(the last {len(lines)}; --limit {total} shows all)")
    for line in lines:
        _print_line(line)


def _read(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    from roost.store.database import Database, StoreError

    async def go() -> T:
        db = Database(settings.store_url)
        try:
            await db.open()
            return await work(db)
        finally:
            await db.close()

    try:
        return asyncio.run(go())
    except StoreError as exc:
        fail(str(exc))


def _print_line(line: TranscriptLine) -> None:
    if line.role == "tool":
        mark = "✗" if line.is_error else "←"
        print(f"  {mark} {line.tool_name or 'tool'}: {_cut(line.text)}")
        return
    note = "" if line.in_context else f" · {LEFT_OUT}"
    print(f"\n── {line.role} · {_local(line.created_at)}{note}")
    if line.text:
        print(line.text)
    for call in line.tool_calls:
        print(f"  → {call['name']}({_cut(call['arguments'])})")


def _cut(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW else flat[: PREVIEW - 1] + "…"


def _local(moment: datetime) -> str:
    """A stored time (naive UTC) in this machine's zone."""
    return moment.replace(tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat()


def _session_dict(summary: SessionSummary) -> dict[str, Any]:
    return {
        "agent": summary.agent,
        "session": summary.key,
        "messages": summary.messages,
        "last_activity": _iso(summary.last_activity),
    }


def _line_dict(line: TranscriptLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "created_at": _iso(line.created_at),
        "role": line.role,
        "text": line.text,
        "tool_calls": line.tool_calls,
        "tool_call_id": line.tool_call_id,
        "tool_name": line.tool_name,
        "is_error": line.is_error,
        "turn_status": line.turn_status,
        "in_context": line.in_context,
    }
