"""`roost budget`: each cap, what has been spent against it, what is left, and its state."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import typer

from roost.cli.common import fail, load, out_console

if TYPE_CHECKING:
    from roost.client.location import GatewayLocation
    from roost.config.settings import Settings
    from roost.ledger.budget import BudgetStatus

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

budget_app = typer.Typer(
    name="budget",
    help="Budget caps: `roost budget` shows them, `roost budget set` changes one at run time.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

STATE_STYLE = {"ok": "green", "warning": "yellow", "downgraded": "yellow", "over": "yellow"}


@budget_app.callback()
def budget(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Each budget cap: spent, left, what happens at the cap (on_exceed) and its state.

    States: ok, warning (80% or more), and at the cap stopped (calls refused), downgraded
    (the cheapest model) or over (warn: turns run). Reads the store: works whether or not
    Roost is running. Caps are set under budget: in the config (docs/cost.md#budgets).
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = load(ctx)
    statuses = asyncio.run(_statuses(settings))
    rows = [_row(status) for status in statuses]
    if as_json:
        print(json.dumps({"budgets": rows}))
        return
    console = out_console()
    if not rows:
        console.print("No budgets are set (budget: in the config, see docs/cost.md#budgets).")
        return
    from rich.table import Table

    table = Table("scope", "period", "cap", "spent", "left", "on_exceed", "state")
    for row in rows:
        style = STATE_STYLE.get(str(row["state"]), "bold red")
        table.add_row(
            str(row["scope"]),
            str(row["period"]),
            f"${row['limit_usd']:.2f}",
            f"${row['spent_usd']:.4f}",
            f"${row['left_usd']:.4f}",
            str(row["on_exceed"]),
            f"[{style}]{row['state']}[/]",
        )
    console.print(table)


def _row(status: BudgetStatus) -> dict[str, object]:
    return {
        "scope": status.scope,
        "period": status.period,
        "limit_usd": status.limit_usd,
        "spent_usd": round(status.spent_usd, 8),
        "left_usd": round(max(0.0, status.limit_usd - status.spent_usd), 8),
        "on_exceed": status.on_exceed,
        "state": status.state,
        "config_key": status.config_key,
    }


async def _statuses(settings: Settings) -> list[BudgetStatus]:
    from roost.ledger.budget import BudgetGuard
    from roost.ledger.ledger import Ledger
    from roost.ledger.pricing import PriceTable
    from roost.store.database import Database, StoreError

    db = Database(settings.store_url)
    try:
        await db.open()
        from roost.store.state import StateStore

        ledger = Ledger(db, PriceTable.for_settings(settings))
        return await BudgetGuard.for_settings(ledger, settings, StateStore(db)).statuses()
    except StoreError as exc:
        fail(str(exc))
    finally:
        await db.close()


@budget_app.command("set")
def set_cap(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="An agent's name, or 'all' for the overall cap.")],
    period: Annotated[str, typer.Argument(help="daily or monthly.")],
    usd: Annotated[float, typer.Argument(help="The new cap in USD (> 0).")],
) -> None:
    """Change a cap at run time: `roost budget set assistant daily 3`.

    Kept in the store. With Roost running, it goes through its gateway (`budget.set`), so
    the running process applies it from its next model call; otherwise it is written to the
    store, and read when Roost starts. It wins over the config file until the file changes
    that key: then the file's value applies and this one is dropped.
    """
    from roost.ledger.budget import CapError, check_cap

    settings = load(ctx)
    try:
        check_cap(period, usd)
    except CapError as exc:
        fail(str(exc))
    who = None if agent == "all" else agent
    if who is not None and who not in settings.agents:
        fail(f"unknown agent '{agent}' (known: {', '.join(settings.agents)}, or all)")
    key, via_gateway = asyncio.run(_set(settings, agent, period, usd))
    applied = (
        "applied by the running Roost"
        if via_gateway
        else "stored: Roost applies it when it starts, or within 30 s if it runs without a gateway"
    )
    out_console().print(f"{key} is now ${usd:.2f} ({applied}; until the config file changes it).")


async def _set(settings: Settings, agent: str, period: str, usd: float) -> tuple[str, bool]:
    """The cap set through the running gateway, else in the store; (its key, via gateway)."""
    from roost.client.location import locate

    location = locate(settings)
    if location is not None:
        key = await _set_via_gateway(location, agent, period, usd)
        if key is not None:
            return key, True
    return await _set_in_store(settings, None if agent == "all" else agent, period, usd), False


async def _set_via_gateway(
    location: GatewayLocation, agent: str, period: str, usd: float
) -> str | None:
    """The cap's key, or None when the gateway is gone (then the store is written)."""
    from roost.client.errors import GatewayCallError, GatewayError, GatewayUnavailable
    from roost.client.gateway_client import GatewayClient, client_id

    try:
        client = await GatewayClient.connect(
            location.url,
            location.token,
            client_id("roost-budget"),
            token_source=location.token_source,
        )
    except GatewayUnavailable:  # gateway.json left by a Roost that is gone
        return None
    except GatewayError as exc:
        fail(str(exc))
    try:
        result = await client.call("budget.set", {"agent": agent, "period": period, "usd": usd})
    except GatewayCallError as exc:
        fail(exc.message)
    except GatewayError as exc:
        fail(str(exc))
    finally:
        await client.close()
    return str(result["config_key"])


async def _set_in_store(settings: Settings, agent: str | None, period: str, usd: float) -> str:
    from roost.ledger.budget import set_cap
    from roost.store.database import Database, StoreError
    from roost.store.state import StateStore

    db = Database(settings.store_url)
    try:
        await db.open()
        return await set_cap(StateStore(db), settings, agent, period, usd)
    except StoreError as exc:
        fail(str(exc))
    finally:
        await db.close()
