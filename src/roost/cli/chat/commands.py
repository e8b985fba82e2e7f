"""`roost chat`'s slash commands: each asks the gateway and shows the answer."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from roost.client.errors import GatewayError

if TYPE_CHECKING:
    from roost.cli.chat.conversation import Chat

HISTORY_LIMIT = 20
HELP = """\
/agent NAME   talk to another agent (/agent alone lists them)
/new          start a fresh session
/history      the last {limit} messages of this session
/cost         what was spent today, by agent
/help         this list
/quit         leave (or Ctrl+D)
Ctrl+C cancels a running answer; at the prompt it clears the line (twice: quit)."""
QUIT = ("/quit", "/exit", "/q")
NEEDS_GATEWAY = ("/agent", "/cost", "/history")


async def run_command(chat: Chat, text: str) -> bool:
    """Act on a line that starts with "/"; False when the user wants to leave."""
    name, _, argument = text.partition(" ")
    argument = argument.strip()
    if name in QUIT:
        return False
    if name in NEEDS_GATEWAY and not await chat.ready():
        return True
    try:
        if name in ("/help", "/?"):
            chat.ui.info(f"Talking to {chat.agent}, session {chat.session}.")
            chat.ui.info(HELP.format(limit=HISTORY_LIMIT))
        elif name == "/agent":
            await switch_agent(chat, argument)
        elif name == "/new":
            new_session(chat)
        elif name == "/cost":
            await show_cost(chat)
        elif name == "/history":
            await show_history(chat)
        else:
            chat.ui.error(f"unknown command {name}: /help lists them")
    except GatewayError as exc:
        chat.ui.error(str(exc))
    return True


async def switch_agent(chat: Chat, name: str) -> None:
    """Talk to ``name`` from now on; without a known name, list the agents."""
    listing = await chat.client.call("agents.list")
    agents = [a for a in listing.get("agents", []) if isinstance(a, dict)]
    names = [str(a.get("name")) for a in agents]
    if name and name in names:
        chat.agent = name
        chat.ui.info(f"now talking to {name} (session {chat.session})")
        return
    if name:
        chat.ui.error(f"unknown agent '{name}'")
    chat.ui.info("agents:")
    for entry in agents:
        marker = "*" if entry.get("name") == chat.agent else " "
        busy = entry.get("busy_sessions") or 0
        state = f"  ({busy} busy)" if busy else ""
        chat.ui.info(f" {marker} {entry.get('name')}  {entry.get('model', '')}{state}")


def new_session(chat: Chat) -> None:
    """A session key from the clock; a counter keeps two in the same second apart."""
    key = f"cli:{datetime.now():%Y%m%d-%H%M%S}"
    if key == chat.session or chat.session.startswith(key + "-"):
        count = int(chat.session.rpartition("-")[2]) if chat.session != key else 1
        key = f"{key}-{count + 1}"
    chat.session = key
    chat.ui.info(f"new session {key} with {chat.agent}")


async def show_cost(chat: Chat) -> None:
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    report = await chat.client.call("usage.summary", {"since": midnight.isoformat()})
    totals = report.get("totals") or report.get("total") or {}
    chat.ui.info(f"today: {_spend(totals)}")
    by_agent = report.get("by_agent") or {}
    if isinstance(by_agent, dict):
        for name, figures in by_agent.items():
            chat.ui.info(f"  {name}: {_spend(figures)}")


async def show_history(chat: Chat) -> None:
    result = await chat.client.call(
        "sessions.history",
        {"agent": chat.agent, "session": chat.session, "limit": HISTORY_LIMIT},
    )
    messages = [m for m in result.get("messages", []) if isinstance(m, dict)]
    if not messages:
        chat.ui.info(f"no messages yet in {chat.agent}'s session {chat.session}")
        return
    for message in messages:
        role = message.get("role")
        text = str(message.get("text") or "")
        if role == "user":
            chat.ui.info(f"you: {text}")
        elif role == "assistant":
            if text:
                chat.ui.info(f"{chat.agent}: {text}")
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict):
                    chat.ui.tool_line(str(call.get("name")), str(call.get("arguments", "")))
        elif role == "tool":
            prefix = "failed: " if message.get("is_error") else "→ "
            chat.ui.tool_line(str(message.get("tool_name") or "tool"), prefix + text)
        else:
            chat.ui.info(f"{role}: {text}")


def _spend(figures: object) -> str:
    if not isinstance(figures, dict):
        return "?"
    cost = figures.get("cost_usd", 0.0)
    return (
        f"${cost if isinstance(cost, int | float) else 0:.4f} in {figures.get('calls', 0)} "
        f"call(s), {figures.get('input_tokens', 0):,} in / "
        f"{figures.get('output_tokens', 0):,} out tokens"
    )
