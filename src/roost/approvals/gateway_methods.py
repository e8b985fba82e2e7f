"""The WebSocket methods ``approvals.list`` and ``approvals.decide``.

A gateway client holds the gateway token, so it is an operator: it may decide any
approval. Errors: ``not_found`` (no such approval), ``decided`` (decided already).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from roost.features.methods import CallContext, Method, MethodError, NoParams, Params
from roost.tools.approval import ApprovalGate, DecideError, Decision


class DecideParams(Params):
    id: int = Field(ge=1)
    decision: Literal["approve", "deny", "always"]


_DECISIONS = {"approve": Decision.APPROVED, "deny": Decision.DENIED, "always": Decision.ALWAYS}


def approval_methods(gate: ApprovalGate) -> list[Method]:
    async def list_pending(_: CallContext, __: NoParams) -> dict[str, Any]:
        return {"approvals": await gate.pending()}

    async def decide(context: CallContext, params: DecideParams) -> dict[str, Any]:
        by = f"ws:{context.peer.client_id}" if context.peer else "gateway"
        try:
            approval = await gate.decide(params.id, _DECISIONS[params.decision], by)
        except DecideError as exc:
            raise MethodError(exc.code, str(exc)) from None
        return {"approval": approval}

    return [
        Method("approvals.list", NoParams, list_pending),
        Method("approvals.decide", DecideParams, decide),
    ]
