"""`roost chat`: talk to an agent through the running gateway, as long as you like.

On a terminal: a prompt (history in ``<home>/chat_history``, arrow keys), answers
streamed as they come, tool calls as dim lines, tokens and cost after each answer,
slash commands. Without one (a pipe, a script): one message per stdin line, each
reply printed plainly.

The client id is ``chat-<host>-<pid>``: one per chat process, kept across
reconnects, so a reply that finishes while the connection is down (the gateway
restarting, a dropped socket) is delivered when this chat reconnects. It is not
shared between processes: two chats on the same session would otherwise take each
other's replies whenever one of them is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roost.cli.ask_cmd import DEFAULT_SESSION, EXIT_INTERRUPTED, gateway_finder
from roost.cli.common import EXIT_FAILED, fail

if TYPE_CHECKING:
    from roost.client.gateway_client import (
        GatewayClient,
        GatewayEvent,
        GatewayFinder,
        GatewayLocation,
    )

FINAL_EVENTS = ("chat.reply", "chat.error")
HISTORY_LIMIT = 20
NO_GATEWAY = (
    "no gateway is running{where}. Start one in another terminal with `roost run` "
    "(or `make run` in a Roost checkout), then run `roost chat` again."
)
HELP = """\
/agent NAME   talk to another agent (/agent alone lists them)
/new          start a fresh session
/history      the last {limit} messages of this session
/cost         what was spent today, by agent
/help         this list
/quit         leave (or Ctrl+D)
Ctrl+C cancels a running answer; at the prompt it clears the line (twice: quit)."""


def chat(
    ctx: typer.Context,
    agent: Annotated[
        str | None,
        typer.Argument(help="The agent to talk to. Default: the first configured one."),
    ] = None,
    session: Annotated[
        str, typer.Option("--session", "-s", help="Conversation to continue.")
    ] = DEFAULT_SESSION,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="The gateway's WebSocket address. Default: the one `roost run` "
            "wrote to <home>/gateway.json.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Chat with an agent through the running gateway (start it with `roost run`).

    Type /help for the commands. Without a terminal, each line of stdin is one
    message and each reply is printed plainly:

        printf 'hello\\n/cost\\n' | roost chat assistant
    """
    find = gateway_finder(ctx, url)
    location = find()
    if location is None:
        fail(NO_GATEWAY.format(where=f" for {find.home}"))
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        code = asyncio.run(_main(location, find, agent, session, interactive))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    if code:
        raise typer.Exit(code)


async def _main(
    location: GatewayLocation,
    find: GatewayFinder,
    agent: str | None,
    session: str,
    interactive: bool,
) -> int:
    from roost.client.gateway_client import (
        GatewayAuthError,
        GatewayClient,
        GatewayUnavailable,
        client_id,
    )

    ui: Ui = TerminalUi() if interactive else PlainUi()
    try:
        client = await GatewayClient.connect(
            location.url, location.token, client_id("chat"), token_source=location.token_source
        )
    except GatewayUnavailable:
        fail(NO_GATEWAY.format(where=f" at {location.url}"))
    except GatewayAuthError as exc:
        fail(str(exc))
    if agent is None:
        agent = client.agents[0] if client.agents else "assistant"
    elif client.agents and agent not in client.agents:
        await client.close()
        fail(f"unknown agent '{agent}' (known: {', '.join(client.agents)})")
    # Reconnecting reads gateway.json again: a restarted `roost run` may listen on
    # another port (gateway.port: 0).
    room = Chat(client, agent, session, ui, interactive=interactive, relocate=find)
    room.start()
    try:
        if interactive:
            return await _interactive(room, find.home)
        return await _plain(room)
    finally:
        await room.stop()


# -- the two front ends -----------------------------------------------------------------


async def _interactive(room: Chat, home: Path) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.formatted_text import FormattedText
    from prompt_toolkit.history import FileHistory, History, InMemoryHistory
    from prompt_toolkit.patch_stdout import patch_stdout

    history: History
    try:
        (home / "chat_history").touch(exist_ok=True)
        history = FileHistory(str(home / "chat_history"))
    except OSError:
        history = InMemoryHistory()
    prompt: PromptSession[str] = PromptSession(history=history)
    room.ui.info(
        f"Talking to {room.agent} (session {room.session}) through {room.client.url}. "
        "/help for commands."
    )
    pressed_ctrl_c = False
    while True:
        try:
            # Only around the prompt: what arrives meanwhile (a reply delivered after a
            # reconnect, a message from an agent) prints above it. A turn's streamed
            # text is written directly, so it is all out before the next prompt.
            with patch_stdout(raw=True):
                line = await prompt.prompt_async(
                    lambda: FormattedText([("bold", room.agent), ("", "> ")])
                )
        except KeyboardInterrupt:
            if pressed_ctrl_c:
                break
            pressed_ctrl_c = True
            room.ui.dim("(Ctrl+C again or Ctrl+D to quit)")
            continue
        except EOFError:
            break
        pressed_ctrl_c = False
        if not await room.handle(line):
            break
    return 0


async def _plain(room: Chat) -> int:
    lines = _stdin_lines()
    failed = False
    while True:
        line = await lines.get()
        if line is None:
            break
        if not await room.handle(line.rstrip("\r\n")):
            break
        if room.interrupted:
            return EXIT_INTERRUPTED
        if room.fatal is not None:
            return EXIT_FAILED
        failed = failed or room.last_failed
    return EXIT_FAILED if failed else 0


def _stdin_lines() -> asyncio.Queue[str | None]:
    """stdin's lines, read by a daemon thread (which never holds up the exit)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may be gone already
                loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="chat-stdin", daemon=True).start()
    return queue


# -- the conversation ---------------------------------------------------------------------


@dataclass
class _Turn:
    done: asyncio.Future[dict[str, Any] | None]
    message_id: int | None = None
    early: list[GatewayEvent] = field(default_factory=list)
    streamed: bool = False
    cancel_requested: bool = False


class Chat:
    """The state of one chat: the connection, the agent, the session, the running turn."""

    def __init__(
        self,
        client: GatewayClient,
        agent: str,
        session: str,
        ui: Ui,
        *,
        interactive: bool,
        relocate: Callable[[], GatewayLocation | None] | None = None,
    ) -> None:
        self.client = client
        self._relocate = relocate
        self.agent = agent
        self.session = session
        self.ui = ui
        self.interactive = interactive
        self.fatal: Exception | None = None
        self.interrupted = False
        self.last_failed = False
        self._turn: _Turn | None = None
        self._pump: asyncio.Task[None] | None = None
        self._stopping = False
        self._cancel_task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._connected.set()

    def start(self) -> None:
        self._pump = asyncio.create_task(self._pump_events(), name="chat-events")

    async def stop(self) -> None:
        self._stopping = True
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.close(), 2)

    async def handle(self, line: str) -> bool:
        """Act on one line; False when the user wants to leave."""
        text = line.strip()
        if not text:
            return True
        if text.startswith("/"):
            return await self._command(text)
        if await self._ready():
            await self.send(text)
        else:
            self.last_failed = True
        return True

    async def _ready(self, wait_s: float = 60.0) -> bool:
        """Connected (waiting for a reconnect in progress), or False with the reason shown."""
        if not self._connected.is_set() and self.fatal is None:
            self.ui.dim("(waiting for the gateway to come back…)")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), wait_s)
        if self._connected.is_set():
            return True
        if self.fatal is None:  # (a fatal error was shown when it happened)
            self.ui.error("the gateway is not reachable: not sent")
        return False

    # -- turns ---------------------------------------------------------------------------

    async def send(self, text: str) -> None:
        from roost.client.gateway_client import GatewayCallError, GatewayError

        loop = asyncio.get_running_loop()
        turn = _Turn(loop.create_future())
        self._turn = turn
        self.last_failed = False
        loop.add_signal_handler(signal.SIGINT, self._on_sigint)
        try:
            try:
                sent = await self.client.call(
                    "chat.send", {"agent": self.agent, "text": text, "session": self.session}
                )
            except GatewayCallError as exc:
                self.last_failed = True
                self.ui.error(exc.message or str(exc))
                return
            except GatewayError as exc:
                self.last_failed = True
                self.ui.error(f"{exc}: not sent")
                return
            message_id = sent.get("message_id")
            turn.message_id = message_id if isinstance(message_id, int) else -1
            early, turn.early = turn.early, []
            for event in early:
                self._route(event)
            if turn.cancel_requested:
                self._request_cancel()
            try:
                final = await turn.done
            except Exception as exc:  # the connection is gone for good
                self.last_failed = True
                self.fatal = exc
                return
            if final is not None:
                self.last_failed = final.get("status") != "ok"
        finally:
            self._turn = None
            for event in turn.early:  # chat.send failed: what came meanwhile is shown now
                self._route(event)
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signal.SIGINT)

    def _on_sigint(self) -> None:
        turn = self._turn
        if turn is None:
            return
        if not self.interactive:
            self.interrupted = True
        if turn.cancel_requested:  # a second Ctrl+C: stop waiting, the reply comes later
            if not turn.done.done():
                self.ui.end_stream(turn.streamed)
                self.ui.dim("(not waiting for this answer any more)")
                turn.done.set_result(None)
            return
        turn.cancel_requested = True
        if turn.message_id is not None:
            self._request_cancel()

    def _request_cancel(self) -> None:
        async def cancel() -> None:
            from roost.client.gateway_client import GatewayError

            try:
                await self.client.call(
                    "chat.cancel", {"agent": self.agent, "session": self.session}, wait_s=5
                )
            except GatewayError as exc:
                self.ui.error(f"could not cancel: {exc}")

        self.ui.end_stream(self._turn.streamed if self._turn else False)
        self.ui.dim("cancelling…")
        self._cancel_task = asyncio.create_task(cancel())

    # -- events ---------------------------------------------------------------------------

    async def _pump_events(self) -> None:
        from roost.client.gateway_client import GatewayAuthError, GatewayError

        while True:
            async for event in self.client.events():
                self._route(event)
            if self._stopping:
                return
            self._connected.clear()
            self.ui.error(f"{self.client.close_error}; reconnecting…")
            while True:
                try:
                    self.client = await self.client.reconnect(
                        within_s=30.0, relocate=self._relocate
                    )
                    break
                except GatewayAuthError as exc:
                    self._give_up(exc)
                    return
                except GatewayError as exc:
                    if not self.interactive:
                        self._give_up(exc)
                        return
            self._connected.set()
            self.ui.dim(f"reconnected to {self.client.url}")
            if self._turn is not None:
                with contextlib.suppress(GatewayError):
                    topic = f"session:{self.agent}:{self.session}"
                    await self.client.call("subscribe", {"topics": [topic]})

    def _give_up(self, exc: Exception) -> None:
        self.fatal = exc
        self._connected.clear()
        self.ui.error(f"{exc}; giving up")
        if self._turn is not None and not self._turn.done.done():
            self._turn.done.set_exception(exc)

    def _route(self, event: GatewayEvent) -> None:
        turn = self._turn
        if turn is not None and turn.message_id is None:
            turn.early.append(event)  # chat.send has not answered yet
            return
        if turn is not None and event.message_id == turn.message_id:
            if event.name == "chat.delta":
                turn.streamed = True
                self.ui.delta(str(event.data.get("text", "")))
            elif event.name == "chat.tool":
                self.ui.tool(event.data)
            elif event.name in FINAL_EVENTS:
                self._show_final(event, turn.streamed)
                if not turn.done.done():
                    turn.done.set_result(event.data)
            return
        if event.name == "chat.message":  # e.g. an agent's send_message to this client
            self.ui.dim(f"message from {event.data.get('from', '?')}:")
            self.ui.info(str(event.data.get("text", "")))
        elif event.name in FINAL_EVENTS:  # a reply to an earlier message (e.g. after a reconnect)
            self.ui.dim(
                f"reply from {event.data.get('agent', '?')} to an earlier message "
                f"(session {event.data.get('session', '?')}):"
            )
            self._show_final(event, False)

    def _show_final(self, event: GatewayEvent, streamed: bool) -> None:
        if event.name == "chat.reply" and event.data.get("status", "ok") == "ok":
            self.ui.reply(event.data, streamed)
        else:
            self.ui.end_stream(streamed)
            status = event.data.get("status", "error")
            self.ui.error(f"{status}: {event.data.get('text', '')}")

    # -- slash commands ---------------------------------------------------------------------

    async def _command(self, text: str) -> bool:
        from roost.client.gateway_client import GatewayError

        name, _, argument = text.partition(" ")
        argument = argument.strip()
        if name in ("/quit", "/exit", "/q"):
            return False
        if name in ("/agent", "/cost", "/history") and not await self._ready():
            return True
        try:
            if name in ("/help", "/?"):
                self.ui.info(f"Talking to {self.agent}, session {self.session}.")
                self.ui.info(HELP.format(limit=HISTORY_LIMIT))
            elif name == "/agent":
                await self._switch_agent(argument)
            elif name == "/new":
                self._new_session()
            elif name == "/cost":
                await self._cost()
            elif name == "/history":
                await self._history()
            else:
                self.ui.error(f"unknown command {name}: /help lists them")
        except GatewayError as exc:
            self.ui.error(str(exc))
        return True

    async def _switch_agent(self, name: str) -> None:
        listing = await self.client.call("agents.list")
        agents = [a for a in listing.get("agents", []) if isinstance(a, dict)]
        names = [str(a.get("name")) for a in agents]
        if name and name in names:
            self.agent = name
            self.ui.info(f"now talking to {name} (session {self.session})")
            return
        if name:
            self.ui.error(f"unknown agent '{name}'")
        self.ui.info("agents:")
        for entry in agents:
            marker = "*" if entry.get("name") == self.agent else " "
            busy = entry.get("busy_sessions") or 0
            state = f"  ({busy} busy)" if busy else ""
            self.ui.info(f" {marker} {entry.get('name')}  {entry.get('model', '')}{state}")

    def _new_session(self) -> None:
        key = f"cli:{datetime.now():%Y%m%d-%H%M%S}"
        if key == self.session or self.session.startswith(key + "-"):
            count = int(self.session.rpartition("-")[2]) if self.session != key else 1
            key = f"{key}-{count + 1}"
        self.session = key
        self.ui.info(f"new session {key} with {self.agent}")

    async def _cost(self) -> None:
        midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        report = await self.client.call("usage.summary", {"since": midnight.isoformat()})
        totals = report.get("totals") or report.get("total") or {}
        self.ui.info(f"today: {_spend(totals)}")
        by_agent = report.get("by_agent") or {}
        if isinstance(by_agent, dict):
            for name, figures in by_agent.items():
                self.ui.info(f"  {name}: {_spend(figures)}")

    async def _history(self) -> None:
        result = await self.client.call(
            "sessions.history",
            {"agent": self.agent, "session": self.session, "limit": HISTORY_LIMIT},
        )
        messages = [m for m in result.get("messages", []) if isinstance(m, dict)]
        if not messages:
            self.ui.info(f"no messages yet in {self.agent}'s session {self.session}")
            return
        for message in messages:
            role = message.get("role")
            text = str(message.get("text") or "")
            if role == "user":
                self.ui.info(f"you: {text}")
            elif role == "assistant":
                if text:
                    self.ui.info(f"{self.agent}: {text}")
                for call in message.get("tool_calls") or []:
                    if isinstance(call, dict):
                        self.ui.tool_line(str(call.get("name")), str(call.get("arguments", "")))
            elif role == "tool":
                prefix = "failed: " if message.get("is_error") else "→ "
                self.ui.tool_line(str(message.get("tool_name") or "tool"), prefix + text)
            else:
                self.ui.info(f"{role}: {text}")


def _spend(figures: object) -> str:
    if not isinstance(figures, dict):
        return "?"
    cost = figures.get("cost_usd", 0.0)
    return (
        f"${cost if isinstance(cost, int | float) else 0:.4f} in {figures.get('calls', 0)} "
        f"call(s), {figures.get('input_tokens', 0):,} in / "
        f"{figures.get('output_tokens', 0):,} out tokens"
    )


# -- output -------------------------------------------------------------------------------


class Ui:
    """How the chat shows things; `TerminalUi` and `PlainUi` differ."""

    def info(self, text: str) -> None:
        print(text, flush=True)

    def dim(self, text: str) -> None:
        print(text, flush=True)

    def error(self, text: str) -> None:
        print(f"roost: {text}", file=sys.stderr, flush=True)

    def delta(self, text: str) -> None:
        """A streamed piece of the answer."""

    def tool(self, data: dict[str, Any]) -> None:
        """A chat.tool event of the running turn."""

    def tool_line(self, tool: str, summary: str) -> None:
        self.dim(f"  [{tool}] {_short(summary)}")

    def reply(self, data: dict[str, Any], streamed: bool) -> None:
        print(str(data.get("text", "")), flush=True)

    def end_stream(self, streamed: bool) -> None:
        """Finish the line an interrupted stream left open."""


class PlainUi(Ui):
    """For pipes and scripts: replies on stdout, everything else on stderr, no colours."""

    def dim(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def tool(self, data: dict[str, Any]) -> None:
        if data.get("phase") == "started":
            self.tool_line(str(data.get("tool", "tool")), str(data.get("summary", "")))


class TerminalUi(Ui):
    """Streams the answer; tool lines and usage dim, errors red (ANSI, via patch_stdout)."""

    def __init__(self) -> None:
        from roost.client.render import StreamPrinter

        self._printer = StreamPrinter()

    def dim(self, text: str) -> None:
        from roost.client.render import DIM, RESET

        print(f"{DIM}{text}{RESET}", flush=True)

    def error(self, text: str) -> None:
        from roost.client.render import RED, RESET

        self._printer.end_line()
        print(f"{RED}{text}{RESET}", flush=True)

    def delta(self, text: str) -> None:
        self._printer.text(text)

    def tool(self, data: dict[str, Any]) -> None:
        tool = str(data.get("tool", "tool"))
        summary = str(data.get("summary", ""))
        if data.get("phase") == "started":
            self._printer.end_line()
            self.tool_line(tool, summary)
        elif data.get("is_error"):
            self._printer.end_line()
            self.tool_line(tool, f"failed: {summary}")

    def reply(self, data: dict[str, Any], streamed: bool) -> None:
        from roost.client.render import usage_line

        if streamed:
            self._printer.end_line()
        else:
            print(str(data.get("text", "")), flush=True)
        self.dim(usage_line(data))

    def end_stream(self, streamed: bool) -> None:
        self._printer.end_line()


def _short(text: str) -> str:
    from roost.client.render import short

    return short(text)
