"""send_message and ask_agent: agents that message and delegate to each other.

Both go through the router and so through the inbox: every inter-agent message is
stored, visible to `subscribe`rs of the traffic topic and in the sessions' history.
A chain of delegations carries its depth; past ``max_delegation_depth`` the tool
refuses with an error the model can read, which stops loops and runaway cost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from roost.bus.envelope import AddressError, Delivery, Envelope, agent_address, split_address
from roost.features.contract import Feature
from roost.tools.registry import Tool, ToolContext, ToolError
from roost.tools.untrusted import untrusted

if TYPE_CHECKING:
    from roost.ports import CorePorts, Inbox, Outbox

DEFAULT_ASK_TIMEOUT_S = 300.0
CHANNEL_SCHEMES = ("telegram", "ws")


class SendMessageArgs(BaseModel):
    to: str = Field(description="Agent name or channel address (telegram:<chat_id>)")
    text: str = Field(min_length=1)


class AskAgentArgs(BaseModel):
    agent: str
    question: str = Field(min_length=1)
    timeout_s: float | None = Field(default=None, gt=0, le=3600, description="Default 300")


def delegation_session(sender: str, session: str) -> str:
    """The recipient's session for messages from one sender's session.

    One per sender session, so a chain A→B→A→B never waits on a session that is
    itself waiting (which would deadlock until the timeout).
    """
    key = f"from:{sender}:{session}"
    if len(key) <= 200:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"from:{sender}:{digest}"


class DelegationFeature(Feature):
    """Delegation as a feature of every process that runs turns: its two tools."""

    name = "delegation"

    def __init__(self, core: CorePorts) -> None:
        self._delegation = Delegation(
            core.inbox,
            core.outbox,
            lambda: list(core.agents),
            core.settings.max_delegation_depth,
        )

    def tools(self) -> Sequence[Tool]:
        return self._delegation.tools()


class Delegation:
    def __init__(
        self,
        inbox: Inbox,
        outbox: Outbox,
        agent_names: Callable[[], list[str]],
        max_depth: int,
    ) -> None:
        self._router = inbox
        self._outbox = outbox
        self._agent_names = agent_names
        self._max_depth = max_depth

    def tools(self) -> list[Tool]:
        return [
            Tool(
                "send_message",
                "Message an agent or a channel without waiting; replies come later as messages.",
                SendMessageArgs,
                self._send_message,
            ),
            Tool(
                "ask_agent",
                "Ask another agent and wait for its answer.",
                AskAgentArgs,
                self._ask_agent,
            ),
        ]

    async def _send_message(self, context: ToolContext, args: SendMessageArgs) -> str:
        target = args.to.strip() if ":" in args.to else f"agent:{args.to.strip()}"
        try:
            scheme, name = split_address(target)
        except AddressError as exc:
            raise ToolError(str(exc)) from None
        if scheme in CHANNEL_SCHEMES:
            delivery = await self._outbox.queue(
                Delivery(
                    target=target,
                    sender=agent_address(context.agent),
                    body=args.text,
                    session=context.session,
                    meta={"agent": context.agent, "session": context.session, "kind": "message"},
                )
            )
            return f"queued for delivery to {target} (delivery {delivery.id})"
        if scheme != "agent":
            raise ToolError(
                f"cannot send to '{target}': use an agent's name, telegram:<chat_id> or ws:<client>"
            )
        depth = self._check(context, name)
        records = self._outbox.records
        current = await records.envelope(context.envelope_id) if context.envelope_id else None
        envelope = await self._router.submit(
            Envelope(
                sender=agent_address(context.agent),
                recipient=target,
                session=delegation_session(context.agent, context.session),
                body=untrusted(f"message from agent {context.agent}", args.text),
                reply_to=agent_address(context.agent),
                depth=depth,
                meta={
                    "reply_session": context.session,
                    **({"then_reply_to": current.reply_to} if current and current.reply_to else {}),
                },
            )
        )
        return (
            f"sent to agent {name} (message {envelope.id}); its reply will arrive in this "
            "conversation as a new message"
        )

    async def _ask_agent(self, context: ToolContext, args: AskAgentArgs) -> str:
        name = args.agent.removeprefix("agent:").strip()
        depth = self._check(context, name)
        timeout = args.timeout_s or DEFAULT_ASK_TIMEOUT_S
        session = delegation_session(context.agent, context.session)
        try:
            result = await self._router.ask(
                Envelope(
                    sender=agent_address(context.agent),
                    recipient=agent_address(name),
                    session=session,
                    body=untrusted(f"question from agent {context.agent}", args.question),
                    depth=depth,
                ),
                timeout_s=timeout,
            )
        except TimeoutError:
            raise ToolError(
                f"agent {name} did not answer within {timeout:g}s; it goes on working and its "
                f"answer will be in its session '{session}'"
            ) from None
        if not result.ok:
            raise ToolError(f"agent {name} could not answer ({result.status}): {result.text}")
        # Its answer may carry what it read (a page, a file): data, not orders.
        return untrusted(f"answer from agent {name}", result.text)

    def _check(self, context: ToolContext, name: str) -> int:
        known = self._agent_names()
        if name not in known:
            raise ToolError(f"unknown agent '{name}' (known: {', '.join(known)})")
        if name == context.agent:
            raise ToolError("an agent cannot message itself")
        depth = context.depth + 1
        if depth > self._max_depth:
            raise ToolError(
                f"refused: this request has already been delegated {context.depth} time(s), "
                f"the limit (max_delegation_depth) is {self._max_depth}. Answer with what you "
                "have instead of delegating further."
            )
        return depth
