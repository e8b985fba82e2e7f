"""Read-only commands: `roost agents` and `roost cost`."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roost.cli.common import fail, load, out_console, stdout_is_terminal
from roost.client.config_check import say_running_config

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from roost.config.settings import Settings
    from roost.ledger.budget import BudgetStatus
    from roost.ledger.ledger import UsageReport, UsageTotals
    from roost.ledger.pricing import PriceTable

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def agents(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the configured agents with their models and tools."""
    from rich.table import Table

    settings = load(ctx)
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
    if as_json:
        print(json.dumps({"agents": rows}))
        say_running_config(settings.home, settings.config_path)
        return
    table = Table("agent", "model", "tools", "workspace")
    for row in rows:
        table.add_row(*_cells(row).values())
    _print_whole(table, rows)
    say_running_config(settings.home, settings.config_path)


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


def cost(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Tokens and USD spent, by agent and by model, today and in total."""
    from roost.ledger.pricing import PriceTable

    settings = load(ctx)
    prices = PriceTable.for_settings(settings)
    today, total, budgets = asyncio.run(_reports(settings, prices))
    sources = {ref: _price_source(prices, ref) for ref in total.by_model}
    if as_json:
        print(
            json.dumps(
                {
                    "today": _report_dict(today),
                    "total": _report_dict(total),
                    "budgets": [_budget_dict(status) for status in budgets],
                    "price_sources": sources,
                }
            )
        )
        return
    console = out_console()
    for title, report in (("Today", today), ("All time", total)):
        _print_table(console, _report_table(title, report, sources))
    for status in budgets:
        style = "bold red" if status.exhausted else "green"
        console.print(
            f"[{style}]{status.period} budget, {status.scope}: ${status.spent_usd:.4f} of "
            f"${status.limit_usd:.2f}[/]",
            highlight=False,
        )
    unpriced = total.total.unpriced_calls
    if unpriced:
        console.print(
            f"[yellow]{unpriced} call(s) used models without a known price and count as $0;[/] "
            "add them under models: in the config."
        )


async def _reports(
    settings: Settings, prices: PriceTable
) -> tuple[UsageReport, UsageReport, list[BudgetStatus]]:
    from roost.ledger.budget import BudgetGuard, period_start
    from roost.ledger.ledger import Ledger
    from roost.store.database import Database, StoreError

    db = Database(settings.store_url)
    try:
        await db.open()
        ledger = Ledger(db, prices)
        budgets = await BudgetGuard.for_settings(ledger, settings).statuses()
        today = await ledger.report(since=period_start("daily"))
        return today, await ledger.report(), budgets
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


def _report_dict(report: UsageReport) -> dict[str, object]:
    return {
        "since": report.since.isoformat() + "Z" if report.since else None,
        "totals": report.total.as_dict(),
        "by_agent": {name: totals.as_dict() for name, totals in report.by_agent.items()},
        "by_model": {name: totals.as_dict() for name, totals in report.by_model.items()},
    }


def _price_source(prices: PriceTable, model_ref: str) -> str:
    provider, _, model = model_ref.partition("/")
    return prices.source(provider, model)


def _usd(totals: UsageTotals) -> str:
    if totals.calls and totals.unpriced_calls == totals.calls:
        return "unpriced"
    if totals.unpriced_calls:
        return f"{totals.cost_usd:.4f} + {totals.unpriced_calls:,} unpriced"
    return f"{totals.cost_usd:.4f}"


def _print_table(console: Console, table: Table) -> None:
    if not stdout_is_terminal():
        # Piped output is read by scripts and pasted into issues: never fold or cut a
        # model name to fit COLUMNS; a terminal gets the table fitted (and folded) instead.
        from rich.measure import Measurement

        natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
        console.width = max(console.width, natural)
    console.print(table)


def _report_table(title: str, report: UsageReport, sources: dict[str, str]) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("", overflow="fold")
    for column in ("calls", "input", "output", "cache read", "cache write", "USD"):
        table.add_column(column, justify="right")
    table.add_column("price from")

    def add(label: str, totals: UsageTotals, source: str = "", style: str | None = None) -> None:
        table.add_row(
            label,
            f"{totals.calls:,}",
            f"{totals.input_tokens:,}",
            f"{totals.output_tokens:,}",
            f"{totals.cache_read_tokens:,}",
            f"{totals.cache_write_tokens:,}",
            _usd(totals),
            source,
            style=style,
        )

    for name, totals in report.by_agent.items():
        add(f"agent {name}", totals)
    for name, totals in report.by_model.items():
        add(f"model {name}", totals, sources.get(name, ""), "dim")
    add("total", report.total, style="bold")
    return table
