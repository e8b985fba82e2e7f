"""`roost doctor` and `roost pairing list|approve`.

Both work without `roost run`: pairing reads and writes the store (the running
process picks an approval up at the user's next message), and doctor checks the
configuration, the data directory, the store, the providers, the gateway token
and Telegram (token, reachability, allowlist, webhook).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from roost.cli.common import EXIT_FAILED, fail, load, out_console, state

if TYPE_CHECKING:
    from roost.channels.telegram.access import Pairing
    from roost.config.settings import Settings
    from roost.store.database import Database

APPROVED_NOTICE = "You have been approved: you can talk to the agents now. Send /help to start."

pairing_app = typer.Typer(
    name="pairing",
    help="Telegram users who asked for access: list the codes, approve one.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Database]:
    from roost.store.database import Database

    db = Database(settings.store_url)
    try:
        await db.open()
        yield db
    finally:
        await db.close()


async def pending_codes(settings: Settings) -> list[Pairing]:
    """The pairing codes waiting for approval, oldest first."""
    from roost.channels.telegram.access import Pairings
    from roost.store.state import StateStore

    async with _database(settings) as db:
        return await Pairings(StateStore(db)).pending()


async def approve_code(settings: Settings, code: str) -> Pairing:
    """Allow the user who got ``code``; raises ``PairingError``.

    The user is told in their chat by the running process's outbox (at its next
    scan of the outbox, within a minute), or at the next start.
    """
    from roost.bus.envelope import Delivery
    from roost.bus.store import BusStore
    from roost.channels.telegram.access import Pairings
    from roost.channels.telegram.context import CHANNEL_SENDER
    from roost.store.state import StateStore

    async with _database(settings) as db:
        pairing = await Pairings(StateStore(db)).approve(code)
        await BusStore(db).enqueue(
            Delivery(
                target=f"telegram:{pairing.chat_id}",
                sender=CHANNEL_SENDER,
                body=APPROVED_NOTICE,
                meta={"kind": "command"},
            )
        )
        return pairing


@pairing_app.command("list")
def pairing_list(ctx: typer.Context) -> None:
    """Show the pairing codes strangers were given (valid for one hour)."""
    import asyncio
    import time

    from roost.channels.telegram.access import display_code
    from roost.store.database import StoreError

    settings = load(ctx)
    try:
        pending = asyncio.run(pending_codes(settings))
    except StoreError as exc:
        fail(str(exc))
    console = out_console()
    if not pending:
        console.print("No pairing codes are waiting.")
        return
    for pairing in pending:
        minutes = max(0, int((pairing.expires_at - time.time()) // 60))
        who = f"@{pairing.username}" if pairing.username else "(no username)"
        console.print(
            f"{display_code(pairing.code)}  user {pairing.user_id} {who}  expires in {minutes} min",
            highlight=False,
        )
    console.print("Approve one with: roost pairing approve CODE", highlight=False)


@pairing_app.command("approve")
def pairing_approve(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The code the user was given, e.g. ABCD-EFGH")],
) -> None:
    """Let the user who was given CODE talk to the agents (kept across restarts)."""
    import asyncio

    from roost.channels.telegram.access import PairingError
    from roost.store.database import StoreError

    settings = load(ctx)
    try:
        pairing = asyncio.run(approve_code(settings, code))
    except (PairingError, StoreError) as exc:
        fail(str(exc))
    who = f" (@{pairing.username})" if pairing.username else ""
    out_console().print(
        f"Approved Telegram user {pairing.user_id}{who}: they can talk to the agents now.",
        highlight=False,
    )


# ----- doctor ---------------------------------------------------------------------------


@dataclass
class Check:
    ok: bool | None
    """True ✓, False ✗, None: a warning or a skipped check (does not fail)."""
    what: str


def doctor(ctx: typer.Context) -> None:
    """Check the setup: config, data directory, store, providers, gateway, Telegram, shell."""
    import asyncio

    from roost.config.errors import ConfigError
    from roost.config.loader import load_settings

    console = out_console()
    try:
        settings = load_settings(state(ctx).config_path)
    except ConfigError as exc:
        console.print(f"✗ config: {exc}", highlight=False, markup=False)
        raise typer.Exit(EXIT_FAILED) from None
    source = settings.config_path or "none (built-in defaults)"
    checks = [Check(True, f"config loads: {source}")]
    checks += _check_home(settings)
    checks += asyncio.run(_async_checks(settings))
    for check in checks:
        mark = {True: "✓", False: "✗", None: "!"}[check.ok]
        console.print(f"{mark} {check.what}", highlight=False, markup=False)
    if any(check.ok is False for check in checks):
        raise typer.Exit(EXIT_FAILED)


def _check_home(settings: Settings) -> list[Check]:
    import tempfile

    from roost.home import prepare_home

    try:
        prepare_home(settings.home)
        with tempfile.NamedTemporaryFile(dir=settings.home, prefix=".doctor-"):
            pass
    except OSError as exc:
        return [Check(False, f"data directory {settings.home} is not writable: {exc.strerror}")]
    return [Check(True, f"data directory {settings.home} is writable")]


async def _async_checks(settings: Settings) -> list[Check]:
    import asyncio

    from roost.channels.telegram.doctor import telegram_checks
    from roost.tools.shell_doctor import shell_checks

    checks = [await _check_store(settings)]
    checks += await _probe_providers(settings, _check_providers(settings))
    checks += _check_gateway(settings)
    checks += await _check_running(settings)
    checks += [Check(ok, what) for ok, what in await telegram_checks(settings.telegram)]
    if settings.mcp_servers:
        from roost.mcp.probe import probe_servers

        checks += [Check(ok, what) for ok, what in await probe_servers(settings.mcp_servers)]
    checks += await _feature_checks(settings)
    checks += [Check(ok, what) for ok, what in await asyncio.to_thread(shell_checks, settings)]
    return checks


async def _feature_checks(settings: Settings) -> list[Check]:
    """What the features and tools add (file modes, memory, shell, fetch, MCP…)."""
    from roost.cli.doctor_checks import feature_checks

    return [Check(ok, what) for ok, what in await feature_checks(settings)]


async def _check_store(settings: Settings) -> Check:
    from roost.store.database import StoreError

    try:
        async with _database(settings) as db:
            return Check(True, f"store opens: {db.display_url}")
    except StoreError as exc:
        return Check(False, f"store: {exc}")


def _check_providers(settings: Settings) -> list[Check]:
    import os

    checks: list[Check] = []
    for name, provider in settings.providers.items():
        key = provider.api_key is not None and bool(provider.api_key.get_secret_value())
        if provider.type == "anthropic":
            found = key or bool(os.environ.get("ANTHROPIC_API_KEY"))
            hint = "set api_key or ANTHROPIC_API_KEY"
        else:
            found = key or bool(provider.base_url) or bool(os.environ.get("OPENAI_API_KEY"))
            hint = "set api_key (or base_url for a local server), or OPENAI_API_KEY"
        where = provider.base_url or "the vendor's API"
        text = f"provider {name} ({provider.type}, {where}): " + ("has a key" if found else hint)
        checks.append(Check(found, text))
    if not checks:
        checks.append(Check(False, "no model provider is configured (run `roost init`)"))
    return checks


async def _probe_providers(settings: Settings, keyed: list[Check]) -> list[Check]:
    """The key checks, each with whether its provider's address answers (no tokens spent)."""
    from roost.cli.doctor_probes import probe_providers, provider_address

    if not settings.providers:
        return keyed
    probes = await probe_providers(settings.providers)
    checks: list[Check] = []
    for (name, provider), check in zip(settings.providers.items(), keyed, strict=True):
        problem = probes[name]
        if problem is not None:
            joined = f", but {problem}" if check.ok else f"; and {problem}"
            checks.append(Check(False, f"{check.what}{joined}"))
        else:
            host, port = provider_address(provider)
            checks.append(Check(check.ok, f"{check.what}; {host}:{port} answers"))
    return checks


async def _check_running(settings: Settings) -> list[Check]:
    """Whether `roost run` is up (gateway.json and /healthz) and which config it loaded."""
    from roost.cli.doctor_probes import running_checks

    return [
        Check(ok, what) for ok, what in await running_checks(settings.home, settings.config_path)
    ]


def _check_gateway(settings: Settings) -> list[Check]:
    from roost.gateway.exposure import gateway_checks

    return [Check(ok, what) for ok, what in gateway_checks(settings)]
