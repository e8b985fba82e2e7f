"""`roost status`: is `roost run` up, since when, and how it is doing.

Running: one authenticated ``GET /api/status`` to its gateway, which answers from
memory and its open store; the command reads only the config's data directory and
token (no pydantic, no SQLAlchemy: ≤ 0.3 s is the target, bench/status_cmd.py).
Down (or without a gateway): the config is loaded and the store read here, and the
answer says "not running".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roost.cli.common import fail, load

if TYPE_CHECKING:
    from roost.client.location import GatewayFinder
    from roost.config.settings import Settings

TIMEOUT_S = 5.0
_PROCESS_FIELDS = ("version", "pid", "uptime_s", "agents", "components")


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Say whether Roost runs, since when, and its agents, queues, jobs and spend today."""
    report = _from_running_process(ctx) or _from_store(load(ctx))
    if as_json:
        print(json.dumps(report))
    else:
        _print(report)


def _from_running_process(ctx: typer.Context) -> dict[str, Any] | None:
    """The running process's own answer, or None (not running, or it could not answer)."""
    from roost.cli.ask_cmd import gateway_finder
    from roost.gateway.discovery import read_endpoint

    find: GatewayFinder = gateway_finder(ctx)
    location = find()
    endpoint = read_endpoint(find.home)
    if location is None or location.token is None or endpoint is None:
        return None
    try:
        answer = _get_json(f"{endpoint.http_url}/api/status", location.token)
    except (OSError, ValueError):
        return None  # said below, from the store: "not running" or "not answering"
    since = datetime.fromtimestamp(
        datetime.now(UTC).timestamp() - float(answer.get("uptime_s", 0)), UTC
    )
    report: dict[str, Any] = {
        "running": True,
        "since": since.isoformat(timespec="seconds"),
        "home": str(find.home),
        "gateway": endpoint.http_url,
        **{key: answer.get(key) for key in _PROCESS_FIELDS},
    }
    report["store"] = {"state": "ok", **_store_part(answer)}
    return report


def _store_part(answer: dict[str, Any]) -> dict[str, Any]:
    keys = ("turns_today", "spend_today_usd", "inbox_waiting", "outbox_pending", "jobs_next_due")
    return {key: answer.get(key) for key in keys}


def _get_json(url: str, token: str) -> dict[str, Any]:
    """``GET url`` with the gateway token; its JSON object."""
    from urllib.request import Request, urlopen

    request = Request(url, headers={"Authorization": f"Bearer {token}"})
    with urlopen(request, timeout=TIMEOUT_S) as response:
        data = json.loads(response.read(1_000_000))
    if not isinstance(data, dict):
        raise ValueError(f"{url} did not answer a JSON object")
    return data


def _from_store(settings: Settings) -> dict[str, Any]:
    from roost import __version__

    report: dict[str, Any] = {"version": __version__, "home": str(settings.home)}
    report.update(_process(settings.home))
    report["agents"] = {name: {"model": a.model_ref} for name, a in settings.agents.items()}
    report["components"] = {}
    report["store"] = _store_figures(settings)
    return report


def _process(home: Path) -> dict[str, Any]:
    """Whether a `roost run` holds the pid file (its gateway off, or not answering)."""
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
    return {"running": True, "pid": pid, "since": since, "gateway": None}


def _store_figures(settings: Settings) -> dict[str, Any]:
    import asyncio

    from roost.bus.store import BusStore
    from roost.ledger.budget import period_start
    from roost.store.database import Database, StoreError
    from roost.store.status_counts import read_store_figures

    if _missing_sqlite_file(settings.store_url):  # opening it would create it
        return {"state": "empty (no database yet)"}
    database = Database(settings.store_url)

    async def read() -> dict[str, Any]:
        try:
            await database.open()
            figures = await read_store_figures(database, period_start("daily"))
            depths = await BusStore(database).queue_depths()
            figures.inbox_waiting, figures.outbox_pending = depths
        finally:
            await database.close()
        return figures.as_dict()

    try:
        figures = asyncio.run(read())
    except StoreError as exc:
        fail(str(exc))
    return {"state": "ok", "url": database.display_url, **figures}


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
    if report.get("gateway") is None:
        return (
            f"{version}: running since {report['since']} (pid {report['pid']}), its gateway "
            "off or not answering; the store shows:"
        )
    return f"{version}: running since {report['since']} (pid {report['pid']}, {report['gateway']})"
