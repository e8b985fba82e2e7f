"""``GET /v1/models`` and ``POST /v1/chat/completions``: OpenAI's API onto Roost's agents.

The gateway checks the token (``Authorization: Bearer``), its failure limits and the
Host/Origin rules before a request gets here. Every error answers in OpenAI's shape
(``wire.error_body``); nothing a client sends gets a 500 or a traceback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from roost.bus.envelope import Envelope, agent_address
from roost.bus.router import RouterStopped
from roost.openai_api import wire
from roost.openai_api.sessions import (
    CLIENT_HEADER,
    MAX_KEY_CHARS,
    SESSION_HEADER,
    Conversation,
    SessionMap,
    client_name,
    conversation,
)
from roost.openai_api.turns import StoppedWaiting, TurnRunner
from roost.store.database import StorageUnavailable

if TYPE_CHECKING:
    import asyncio

    from roost.ports import CorePorts

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 * 1024 * 1024
"""A resent chat history can be long; this is far more than any model's context."""
SENDER_SCHEME = "openai"
REMEMBERED_SYSTEM_MESSAGES = 10_000


class RequestError(Exception):
    """A request Roost refuses, answered in OpenAI's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        kind: str = "invalid_request_error",
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.kind, self.param = status, code, kind, param

    def response(self) -> JSONResponse:
        body = wire.error_body(str(self), self.kind, self.code, self.param)
        return JSONResponse(body, status_code=self.status)


class OpenAIApi:
    def __init__(self, core: CorePorts, stopping: asyncio.Event) -> None:
        self._core = core
        self._sessions = SessionMap(core.sessions)
        self._turns = TurnRunner(core, stopping)
        self._created = int(core.started_at)
        self._warned_system: set[str] = set()
        self._appended_system: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        """Per session, the client system message last added (its digest), most recent last."""

    async def models(self, request: Request) -> Response:
        return JSONResponse(wire.models_list(sorted(self._core.agents), self._created))

    async def model(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self._core.agents:
            return _unknown_model(name).response()
        return JSONResponse(wire.model_entry(name, self._created))

    async def chat_completions(self, request: Request) -> Response:
        try:
            return await self._chat(request)
        except RequestError as exc:
            return exc.response()
        except (StoppedWaiting, RouterStopped) as exc:
            return RequestError(503, str(exc), "shutting_down", "server_error").response()
        except StorageUnavailable as exc:  # logged once by the store, not per request
            return RequestError(exc.http_status, str(exc), exc.code, "server_error").response()
        except Exception:
            log.exception("openai: POST /v1/chat/completions failed")
            return RequestError(
                500, "internal error (see the server log)", "internal", "server_error"
            ).response()

    async def _chat(self, request: Request) -> Response:
        body = await _read_body(request)
        agent = body.model
        if agent not in self._core.agents:
            raise _unknown_model(agent)
        client = client_name(request.headers.get(CLIENT_HEADER), request.headers.get("user-agent"))
        talk = conversation(agent, client, body.messages)
        if talk is None:
            raise RequestError(
                400,
                "messages: the newest user message has no text (only text parts are read)",
                "invalid_messages",
                param="messages",
            )
        header = request.headers.get(SESSION_HEADER)
        if header is not None and not 0 < len(header) <= MAX_KEY_CHARS:
            raise RequestError(
                400, f"X-Roost-Session: 1 to {MAX_KEY_CHARS} characters", "invalid_session"
            )
        placement = await self._sessions.place(talk, header, _user_key(body.user))
        text = self._turn_input(talk, placement.how == "branch", placement.session, body)
        envelope = Envelope(
            sender=f"{SENDER_SCHEME}:{client}",
            recipient=agent_address(agent),
            session=placement.session,
            body=text,
            meta={"channel": "openai", "session_from": placement.how},
        )
        completion_id = f"chatcmpl-{secrets.token_hex(12)}"
        if body.stream:
            writer = wire.ChunkWriter(completion_id, agent, body.include_usage)
            self._sessions.went_on(talk, placement)
            return StreamingResponse(
                self._turns.stream(envelope, writer),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Roost-Session": placement.session},
            )
        result = await self._turns.ask(envelope)
        self._sessions.went_on(talk, placement)
        turn = {"message_id": envelope.id, **result.as_dict()}
        return JSONResponse(
            wire.completion(completion_id, result, turn),
            headers={"X-Roost-Session": placement.session},
        )

    def _turn_input(
        self, talk: Conversation, branch: bool, session: str, body: wire.ChatCompletionRequest
    ) -> str:
        """The newest user message, after the context Roost adds: the client's system
        message (``agents.<name>.openai_system: append``) and a branch's earlier messages."""
        parts = []
        system = "\n\n".join(
            m.text for m in body.messages if m.role in wire.SYSTEM_ROLES and m.text
        )
        if system and self._append_system(talk.agent, session, system):
            parts.append(f"[System message from the client application]\n{system}\n[End]")
        if branch:
            parts.append(_earlier(talk, self._core.agents[talk.agent].settings.max_context_tokens))
        return "\n\n".join([*parts, talk.newest])

    def _append_system(self, agent: str, session: str, system: str) -> bool:
        """Whether to add the client's system message to this turn's input: per the
        agent's ``openai_system``, and only when it changed in this session."""
        if self._core.agents[agent].settings.openai_system != "append":
            if agent not in self._warned_system:
                self._warned_system.add(agent)
                log.info(
                    "openai: agent %s ignores system messages from OpenAI clients "
                    "(agents.%s.openai_system: append adds them to the turn as context)",
                    agent,
                    agent,
                )
            return False
        digest = hashlib.sha256(system.encode("utf-8")).digest()
        if self._appended_system.get((agent, session)) == digest:
            self._appended_system.move_to_end((agent, session))
            return False
        self._appended_system[(agent, session)] = digest
        while len(self._appended_system) > REMEMBERED_SYSTEM_MESSAGES:
            self._appended_system.popitem(last=False)
        return True


def _earlier(talk: Conversation, max_context_tokens: int) -> str:
    """The client's earlier messages, newest kept when they are long (~4 characters a
    token, half the agent's context at most)."""
    budget = max_context_tokens * 2
    lines: list[str] = []
    for role, text in reversed(talk.earlier):
        line = f"{role}: {text}"
        if len(line) > budget:
            break
        lines.append(line)
        budget -= len(line)
    lines.reverse()
    return "\n".join(
        [
            "[Earlier in this conversation, as the client sent it]",
            *lines,
            "[End of earlier messages]",
        ]
    )


def _user_key(user: str | None) -> str | None:
    if not user:
        return None
    if len(user) > 180:  # the session key stays within 200 characters
        return "sha256-" + hashlib.sha256(user.encode()).hexdigest()[:32]
    return user


def _unknown_model(name: str) -> RequestError:
    return RequestError(
        404,
        f"The model '{name[:200]}' does not exist: models are Roost's agents (GET /v1/models)",
        "model_not_found",
        param="model",
    )


async def _read_body(request: Request) -> wire.ChatCompletionRequest:
    raw = await _read_limited(request)
    try:
        data: Any = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise RequestError(400, "body: nested too deeply", "invalid_json") from None
    except ValueError as exc:
        raise RequestError(400, f"body: not valid JSON: {exc}", "invalid_json") from None
    if not isinstance(data, dict):
        raise RequestError(400, "body: must be a JSON object", "invalid_json")
    try:
        return wire.ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RequestError(
            400, f"{where}: {first['msg']}", "invalid_request", param=where
        ) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def _read_limited(request: Request) -> bytes:
    too_large = RequestError(413, f"body: larger than {MAX_BODY_BYTES} bytes", "request_too_large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_large
    return bytes(body)
