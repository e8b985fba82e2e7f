"""The bot's commands, answered by the channel itself (no model call).

Answers go through the outbox (``ChannelContext.say``), in Markdown like an
agent's reply. ``/ask`` is the one command that reaches an agent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from roost.channels.telegram import reports
from roost.channels.telegram.access import PairingError, display_code
from roost.channels.telegram.chats import ChatRef
from roost.channels.telegram.context import ChannelContext, Incoming

log = logging.getLogger(__name__)

MENU: list[tuple[str, str]] = [
    ("help", "What the bot can do"),
    ("agents", "List the agents, with model and status"),
    ("use", "Talk to another agent in this chat: /use NAME"),
    ("ask", "One message to another agent: /ask NAME text"),
    ("plan", "This message on the agent's planner model: /plan text"),
    ("new", "Start a fresh session"),
    ("stop", "Cancel the running turn"),
    ("status", "Uptime, agents, queue, today's spend"),
    ("cost", "Spend today and this month"),
    ("jobs", "Scheduled jobs: /jobs, /jobs run NAME, /jobs pause NAME"),
    ("approve", "Let a new user talk to the bot: /approve CODE"),
    ("start", "Start talking"),
]
"""The command menu (setMyCommands), in the order Telegram shows it."""

HELP = """**Commands**
/agents — list the agents, with model and status
/use NAME — talk to another agent in this chat
/ask NAME text — one message to another agent, without switching
/plan text — this message, in this chat's session, on the agent's planner model
/new — start a fresh session with the current agent
/stop — cancel the running turn
/status — uptime, agents, queue, today's spend
/cost — spend today and this month, by agent and model
/jobs — scheduled jobs; /jobs run NAME, /jobs pause NAME, /jobs resume NAME
/approve CODE — let someone who got a pairing code talk to the bot
/help — this text

Anything else you write goes to the current agent: **{agent}**."""

Handler = Callable[[Incoming, str], Awaitable[None]]


class Commands:
    def __init__(self, ctx: ChannelContext) -> None:
        self.ctx = ctx
        self._handlers: dict[str, Handler] = {
            "start": self.start,
            "help": self.help,
            "agents": self.agents,
            "use": self.use,
            "ask": self.ask,
            "plan": self.plan,
            "new": self.new,
            "stop": self.stop,
            "status": self.status,
            "cost": self.cost,
            "jobs": self.jobs,
            "approve": self.approve,
        }

    async def run(self, incoming: Incoming, name: str, args: str) -> None:
        handler = self._handlers.get(name)
        if handler is None:
            await self._say(incoming, f"Unknown command /{name}.\n\n{await self._help(incoming)}")
            return
        await handler(incoming, args.strip())

    async def _say(self, incoming: Incoming, text: str) -> None:
        await self.ctx.say(incoming.chat, text, kind="command")

    async def _help(self, incoming: Incoming) -> str:
        state = await self.ctx.chats.get(incoming.chat)
        return HELP.format(agent=state.agent)

    async def start(self, incoming: Incoming, args: str) -> None:
        await self._say(
            incoming,
            f"Hi! I pass your messages on to Roost's agents.\n\n{await self._help(incoming)}",
        )

    async def help(self, incoming: Incoming, args: str) -> None:
        await self._say(incoming, await self._help(incoming))

    async def agents(self, incoming: Incoming, args: str) -> None:
        state = await self.ctx.chats.get(incoming.chat)
        await self._say(incoming, reports.agents_text(self.ctx.core, state.agent))

    async def use(self, incoming: Incoming, args: str) -> None:
        name = args.split()[0] if args else ""
        if not name:
            await self._say(incoming, f"Usage: /use NAME ({self._known()})")
            return
        if name not in self.ctx.core.agents:
            await self._say(incoming, f"There is no agent '{name}' ({self._known()}).")
            return
        await self.ctx.chats.use(incoming.chat, name)
        model = self.ctx.core.agents[name].settings.model_ref
        await self._say(incoming, f"This chat now talks to **{name}** ({model}).")

    async def ask(self, incoming: Incoming, args: str) -> None:
        name, _, text = args.partition(" ")
        if not name or not text.strip():
            await self._say(incoming, f"Usage: /ask NAME text ({self._known()})")
            return
        if name not in self.ctx.core.agents:
            await self._say(incoming, f"There is no agent '{name}' ({self._known()}).")
            return
        await self.ctx.core.inbox.submit(await self.ctx.envelope_for(incoming, name, text.strip()))

    async def plan(self, incoming: Incoming, args: str) -> None:
        """The whole turn on the chat's agent's ``planner_model`` (its ledger role: planner)."""
        state = await self.ctx.chats.get(incoming.chat)
        agent = self.ctx.core.agents.get(state.agent)
        if not args.strip():
            await self._say(incoming, "Usage: /plan text (runs it on the planner model)")
            return
        if agent is None or agent.settings.planner_model is None:
            await self._say(
                incoming,
                f"**{state.agent}** has no planner model: set agents.{state.agent}.planner_model.",
            )
            return
        envelope = await self.ctx.envelope_for(incoming, state.agent, args.strip())
        envelope.meta = {**envelope.meta, "planner": True}
        await self.ctx.core.inbox.submit(envelope)

    async def new(self, incoming: Incoming, args: str) -> None:
        state = await self.ctx.chats.new_session(incoming.chat)
        await self._say(incoming, f"Started a new session with **{state.agent}**.")

    async def stop(self, incoming: Incoming, args: str) -> None:
        """Cancel this chat's running turns; each answers "Cancelled." itself."""
        state = await self.ctx.chats.get(incoming.chat)
        session = self.ctx.chats.session_key(incoming.chat, state)
        stopped = [name for name, agent in self.ctx.core.agents.items() if agent.cancel(session)]
        if not stopped:
            await self._say(incoming, "Nothing is running in this chat.")
        else:
            log.info("telegram: user %d stopped %s in %s", incoming.user_id, stopped, session)

    async def status(self, incoming: Incoming, args: str) -> None:
        await self._say(incoming, await reports.status_text(self.ctx.core))

    async def cost(self, incoming: Incoming, args: str) -> None:
        await self._say(incoming, await reports.cost_text(self.ctx.core.usage))

    async def jobs(self, incoming: Incoming, args: str) -> None:
        await self._say(incoming, await reports.jobs_text(self.ctx.core, args))

    async def approve(self, incoming: Incoming, args: str) -> None:
        if not self.ctx.access.is_owner(incoming.user_id, incoming.username):
            await self._say(incoming, "Only the users in telegram.allowed_users can approve.")
            return
        if not args:
            await self._say(incoming, "Usage: /approve CODE (the code the new user was given)")
            return
        try:
            pairing = await self.ctx.access.pairings.approve(args.split()[0])
        except PairingError as exc:
            await self._say(incoming, str(exc))
            return
        who = f"{pairing.user_id}" + (f" (@{pairing.username})" if pairing.username else "")
        log.info("telegram: user %d approved user %s", incoming.user_id, who)
        await self._say(incoming, f"Approved user {who} (code {display_code(pairing.code)}).")
        await self.ctx.say(ChatRef(pairing.chat_id), APPROVED_NOTICE, kind="command")

    def _known(self) -> str:
        return "agents: " + (", ".join(self.ctx.core.agents) or "none")


APPROVED_NOTICE = "You have been approved: you can talk to the agents now. Send /help to start."
