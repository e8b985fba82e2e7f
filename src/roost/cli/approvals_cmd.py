"""`roost approvals`: list the tool uses waiting for the owner, approve or deny them.

Talks to the running gateway (`roost run`): a waiting tool lives in that process,
so deciding anywhere else could not wake it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from roost.cli.common import fail, load, out_console

approvals_app = typer.Typer(
    name="approvals",
    help="Tool uses waiting for your approval (shell commands…): list, approve, deny.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
IdArgument = Annotated[int, typer.Argument(help="The approval's id (from `roost approvals list`).")]


def _call(ctx: typer.Context, method: str, params: dict[str, Any] | None = None) -> Any:
    from roost.client.errors import GatewayCallError, GatewayError
    from roost.client.gateway_client import GatewayClient, client_id
    from roost.client.location import locate

    settings = load(ctx)
    location = locate(settings)
    if location is None:
        fail("no gateway is running: approvals are decided while `roost run` serves")

    async def go() -> dict[str, Any]:
        client = await GatewayClient.connect(
            location.url,
            location.token,
            client_id("roost-approvals"),
            token_source=location.token_source,
        )
        try:
            return await client.call(method, params)
        finally:
            await client.close()

    try:
        return asyncio.run(go())
    except GatewayCallError as exc:
        fail(exc.message or exc.code)
    except GatewayError as exc:
        fail(str(exc))


@approvals_app.command("list")
def list_approvals(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The approvals waiting for a decision, oldest first."""
    result = _call(ctx, "approvals.list")
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    found = result["approvals"]
    if not found:
        print("nothing waits for your approval")
        return
    from rich.table import Table

    table = Table("id", "agent", "tool", "asks to run", "since", "always")
    for approval in found:
        table.add_row(
            str(approval["id"]),
            approval["agent"],
            approval["tool"],
            approval["summary"],
            approval["requested_at"],
            approval["pattern"] or "-",
        )
    out_console().print(table)


def _decide(ctx: typer.Context, approval_id: int, decision: str, as_json: bool) -> None:
    result = _call(ctx, "approvals.decide", {"id": approval_id, "decision": decision})
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    approval = result["approval"]
    print(f"approval {approval['id']} {approval['state']}: {approval['agent']} {approval['tool']}")


@approvals_app.command("approve")
def approve(
    ctx: typer.Context,
    approval_id: IdArgument,
    always: Annotated[
        bool, typer.Option("--always", help="Also allow this command from now on (persisted).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Let the tool go ahead (with --always: and allow the same from now on)."""
    _decide(ctx, approval_id, "always" if always else "approve", as_json)


@approvals_app.command("deny")
def deny(ctx: typer.Context, approval_id: IdArgument, as_json: JsonOption = False) -> None:
    """Refuse: the agent is told the owner denied it."""
    _decide(ctx, approval_id, "deny", as_json)
