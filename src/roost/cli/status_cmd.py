"""`roost status`: is `roost run` up, since when, and how it is doing.

From the running process: its pid file (``<home>/roost.pid``: up since the file was
written) and its gateway's /healthz (agents, components such as Telegram and MCP);
from the store, running or not: today's turns and spend, the inbox and outbox
depths, the next jobs due.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roost.cli.common import fail, load

if TYPE_CHECKING:
    from roost.config.settings import Settings

HEALTH_TIMEOUT_S = 2.0


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Say whether Roost runs, since when, and its agents, queues, jobs and spend today."""
    from roost import __version__

    settings = load(ctx)
    report: dict[str, Any] = {"version": __version__, "home": str(settings.home)}
    report.update(_process(settings.home))
    report.update(_from_gateway(settings) if report["running"] else _from_config(settings))
    report["store"] = _store_figures(settings)
    if as_json:
        print(json.dumps(report))
    else:
        _print(report)


def _process(home: Path) -> dict[str, Any]:
    """``running``, ``pid`` and ``since`` from the pid file `roost run` holds."""
    from roost.gateway.discovery import process_alive

    pid_file = home / "roost.pid"
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
        written = pid_file.stat().st_mtime
    except (OSError, ValueError):
        return {"running": False, "pid": None, "since": None}
    if not process_alive(pid):
        return {"running": False, "pid": None, "since": None}
    since = datetime.fromtimestamp(written, UTC).isoformat(timespec="seconds")
    return {"running": True, "pid": pid, "since": since}


def _from_gateway(settings: Settings) -> dict[str, Any]:
    """Agents and components as the running process reports them (its /healthz)."""
    from roost.gateway.discovery import read_endpoint

    endpoint = read_endpoint(settings.home)
    if endpoint is None:
        return {**_from_config(settings), "gateway": None}
    try:
        health = _get_json(f"{endpoint.http_url}/healthz")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return {**_from_config(settings), "gateway": endpoint.http_url, "problem": str(reason)}
    agents = {
        name: {
            "model": info.get("model"),
            "busy_sessions": info.get("busy_sessions", 0),
            "queued": info.get("queued", 0),
        }
        for name, info in dict(health.get("agents", {})).items()
    }
    return {
        "gateway": endpoint.http_url,
        "uptime_s": health.get("uptime_s"),
        "agents": agents,
        "components": dict(health.get("components", {})),
    }


def _from_config(settings: Settings) -> dict[str, Any]:
    agents = {name: {"model": agent.model_ref} for name, agent in settings.agents.items()}
    return {"agents": agents, "components": {}}


def _get_json(url: str) -> dict[str, Any]:
    """``GET url``'s JSON object; /healthz is public (no token sent)."""
    from urllib.request import urlopen

    with urlopen(url, timeout=HEALTH_TIMEOUT_S) as response:
        data = json.loads(response.read(1_000_000))
    if not isinstance(data, dict):
        raise ValueError("/healthz did not answer a JSON object")
    return data


def _store_figures(settings: Settings) -> dict[str, Any]:
    from roost.cli.status_store import read_store_figures
    from roost.ledger.budget import period_start
    from roost.store.database import Database, StoreError

    database = Database(settings.store_url)
    if _missing_sqlite_file(settings.store_url):  # opening it would create it
        return {"state": "empty (no database yet)"}
    try:
        figures = asyncio.run(read_store_figures(settings.store_url, period_start("daily")))
    except StoreError as exc:
        fail(str(exc))
    return {"state": "ok", "url": database.display_url, **figures.as_dict()}


def _missing_sqlite_file(store_url: str) -> bool:
    from sqlalchemy import make_url

    url = make_url(store_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return False
    return not Path(url.database).expanduser().exists()


def _print(report: dict[str, Any]) -> None:
    lines = [_headline(report)]
    for name, agent in report["agents"].items():
        busy = agent.get("busy_sessions")
        activity = "" if busy is None else f" ({busy} busy, {agent.get('queued', 0)} queued)"
        lines.append(f"  agent {name}: {agent['model']}{activity}")
    for name, component in report["components"].items():
        detail = ", ".join(f"{k} {v}" for k, v in component.items() if k != "state")
        lines.append(f"  {name}: {component.get('state', '?')}{f' ({detail})' if detail else ''}")
    store = report["store"]
    if store.get("state") == "ok":
        lines.append(
            f"today: {store['turns_today']} turn(s), ${store['spend_today_usd']:.4f}; "
            f"inbox {store['inbox_waiting']} waiting, outbox {store['outbox_pending']} pending"
        )
        for job in store["jobs_next_due"]:
            lines.append(f"  job {job['name']} ({job['agent']}): next {job['next_due']}")
    else:
        lines.append(f"store: {store.get('state')}")
    print("\n".join(lines))


def _headline(report: dict[str, Any]) -> str:
    version = f"roost {report['version']}"
    if not report["running"]:
        return f"{version}: not running (home {report['home']}); the store shows:"
    where = f", gateway {report['gateway']}" if report.get("gateway") else ""
    problem = f" — {report['problem']}" if report.get("problem") else ""
    return f"{version}: running since {report['since']} (pid {report['pid']}{where}){problem}"
