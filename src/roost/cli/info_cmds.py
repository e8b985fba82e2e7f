"""Read-only commands: `roost agents` and `roost cost`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roost.cli.common import fail, load, out_console, state, stdout_is_terminal
from roost.client.config_check import say_running_config

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from roost.config.settings import Settings
    from roost.ledger.budget import BudgetStatus
    from roost.ledger.pricing import PriceTable

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def agents(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the configured agents with their models and tools.

    With --verbose: the planner model and the bytes of the fixed part of every request
    (system prompt + tool specs), which every call pays for.
    """
    from rich.table import Table

    settings = load(ctx)
    verbose = state(ctx).verbose
    rows: list[dict[str, Any]] = [
        {
            "name": agent.name,
            "model": agent.model_ref,
            "tools": list(agent.tools),
            "workspace": str(agent.workspace),
            "configured": agent.provider is not None,
        }
        for agent in settings.agents.values()
    ]
    if verbose:
        for row, fixed in zip(rows, _fixed_bytes(settings).values(), strict=True):
            agent = settings.agents[row["name"]]
            row["planner_model"] = (
                f"{agent.planner_provider}/{agent.planner_model}" if agent.planner_model else None
            )
            row["fixed_request_bytes"] = fixed
    if as_json:
        print(json.dumps({"agents": rows}))
        say_running_config(settings.home, settings.config_path)
        return
    table = Table("agent", "model", "tools", "workspace")
    if verbose:
        table.add_column("fixed bytes", justify="right")
    for row in rows:
        cells = list(_cells(row).values())
        if verbose:
            cells.append(f"{row['fixed_request_bytes']:,}")
        table.add_row(*cells)
    _print_whole(table, rows)
    say_running_config(settings.home, settings.config_path)


def _fixed_bytes(settings: Settings) -> dict[str, int]:
    """Per agent: the UTF-8 bytes of its system prompt and of its tools' specs as JSON (the
    plan tool's too, with a planner model) — sent again with every call."""
    from roost.agents.planner import PLAN_SPEC
    from roost.app import App

    registry = App(settings).tools  # not started: no connection, no SDK import
    sizes = {}
    for name, agent in settings.agents.items():
        specs = list(registry.specs(agent.tools))
        if agent.planner_model:
            specs.append(PLAN_SPEC)
        tools = sum(
            len(json.dumps([spec.name, spec.description, spec.input_schema]).encode())
            for spec in specs
        )
        sizes[name] = len(agent.system.encode()) + tools
    return sizes


def _cells(row: dict[str, Any]) -> dict[str, str]:
    """An agent's values as rich markup (escaped: a path may hold "[")."""
    from rich.markup import escape

    return {
        "name": escape(str(row["name"])),
        "model": escape(str(row["model"]))
        if row["configured"]
        else "[yellow]no provider configured[/]",
        "tools": escape(", ".join(row["tools"])),
        "workspace": escape(str(row["workspace"])),
    }


def _print_whole(table: Table, rows: list[dict[str, Any]]) -> None:
    """The table with every value whole: names and paths are copied from it.

    Through a pipe there is no width to keep to, so the table is as wide as its values
    (rich would otherwise cut them at $COLUMNS or 80). On a terminal too narrow for it,
    one agent per block instead, each value on its own line.
    """
    from rich.measure import Measurement

    console = out_console()
    needed = Measurement.get(console, console.options.update_width(100_000), table).maximum
    if not stdout_is_terminal():
        out_console(width=needed).print(table)
    elif needed <= console.width:
        console.print(table)
    else:
        for row in rows:
            cells = _cells(row)
            console.print(f"[bold]{cells['name']}[/]", highlight=False)
            for label in ("model", "tools", "workspace"):
                console.print(f"  {label}: {cells[label] or 'none'}", highlight=False)


SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only calls in this span back from now (7d, 12h, 30m, 2w) or since a date "
        "(2026-05-01, UTC). Default: all time.",
    ),
]
ByOption = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Group by agent, model, day (UTC), role (routine, planner, summary, fallback) or "
        "job. Default: by agent and by model.",
    ),
]


def cost(
    ctx: typer.Context, since: SinceOption = None, by: ByOption = None, as_json: JsonOption = False
) -> None:
    """Tokens and USD spent, the cache share of input and this month's projected spend.

    Reads the store directly, so it works whether or not Roost is running.
    """
    from roost.ledger.ledger import GROUP_KEYS
    from roost.ledger.pricing import PriceTable

    if by is not None and by not in GROUP_KEYS:
        fail(f"--by {by!r}: use one of {', '.join(GROUP_KEYS)}")
    settings = load(ctx)
    prices = PriceTable.for_settings(settings)
    data, budgets = asyncio.run(_reports(settings, prices, _since(since), by or "agent"))
    sources = {ref: _price_source(prices, ref) for ref in data["by_model"]}
    if as_json:
        data["budgets"] = [_budget_dict(status) for status in budgets]
        data["price_sources"] = sources
        print(json.dumps(data))
        return
    console = out_console()
    _print_table(console, _report_table(data, by, sources))
    projection = data["projection"]
    console.print(
        f"This month so far ${projection['month_to_date_usd']:.4f}; projected "
        f"${projection['projected_month_usd']:.4f} ({projection['method']}).",
        highlight=False,
    )
    for status in budgets:
        style = "bold red" if status.exhausted else "green"
        console.print(
            f"[{style}]{status.period} budget, {status.scope}: ${status.spent_usd:.4f} of "
            f"${status.limit_usd:.2f}[/]",
            highlight=False,
        )
    unpriced = data["total"]["unpriced_calls"]
    if unpriced:
        console.print(
            f"[yellow]{unpriced} call(s) used models without a known price (shown as "
            "unpriced, not counted in USD);[/] add them under models: in the config."
        )


def _since(text: str | None) -> datetime | None:
    """``--since`` as naive UTC (how the ledger stores times)."""
    from roost.ledger.cost_report import parse_window

    if text is None:
        return None
    try:
        return datetime.now(UTC).replace(tzinfo=None) - parse_window(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--since {text!r}: give a span like 7d, 12h, 30m or 2w, or a date like 2026-05-01")
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


async def _reports(
    settings: Settings, prices: PriceTable, since: datetime | None, by: str
) -> tuple[dict[str, Any], list[BudgetStatus]]:
    from roost.ledger.budget import BudgetGuard
    from roost.ledger.cost_report import summary
    from roost.ledger.ledger import Ledger
    from roost.store.database import Database, StoreError

    db = Database(settings.store_url)
    try:
        await db.open()
        ledger = Ledger(db, prices)
        budgets = await BudgetGuard.for_settings(ledger, settings).statuses()
        return await summary(ledger, since, by), budgets
    except StoreError as exc:
        fail(str(exc))
    finally:
        await db.close()


def _budget_dict(status: BudgetStatus) -> dict[str, object]:
    return {
        "scope": status.scope,
        "period": status.period,
        "limit_usd": status.limit_usd,
        "spent_usd": round(status.spent_usd, 8),
        "exhausted": status.exhausted,
    }


def _price_source(prices: PriceTable, model_ref: str) -> str:
    provider, _, model = model_ref.partition("/")
    return prices.source(provider, model)


def _print_table(console: Console, table: Table) -> None:
    if not stdout_is_terminal():
        # Piped output is read by scripts and pasted into issues: never fold or cut a
        # model name to fit COLUMNS; a terminal gets the table fitted (and folded) instead.
        from rich.measure import Measurement

        natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
        console.width = max(console.width, natural)
    console.print(table)


def _report_table(data: dict[str, Any], by: str | None, sources: dict[str, str]) -> Table:
    from rich.markup import escape
    from rich.table import Table

    since = f"since {data['since']}" if data["since"] else "all time"
    table = Table(title=f"Spent {since}", title_justify="left")
    table.add_column("", overflow="fold")
    for column in ("calls", "input", "output", "cache read", "cache write", "cached", "USD"):
        table.add_column(column, justify="right")
    table.add_column("price from")

    def add(label: str, totals: dict[str, Any], source: str = "", style: str | None = None) -> None:
        share = totals["cache_share"]
        table.add_row(
            escape(label),
            f"{totals['calls']:,}",
            f"{totals['input_tokens']:,}",
            f"{totals['output_tokens']:,}",
            f"{totals['cache_read_tokens']:,}",
            f"{totals['cache_write_tokens']:,}",
            "-" if share is None else f"{share:.0%}",
            totals["cost"].removeprefix("$"),
            source,
            style=style,
        )

    groups = [("agent", data["by_agent"]), ("model", data["by_model"])]
    if by is not None:
        groups = [(by, data["groups"])]
    for key, rows in groups:
        for name, totals in rows.items():
            source = sources.get(name, "") if key == "model" else ""
            add(f"{key} {name}", totals, source, "dim" if key == "model" and by is None else None)
    add("total", data["total"], style="bold")
    return table
