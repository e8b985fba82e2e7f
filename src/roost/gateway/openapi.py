"""The OpenAPI 3.1 description of the HTTP API, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from roost import __version__

_INT = {"type": "integer"}
_STR = {"type": "string"}
_NUM = {"type": "number"}

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": _STR, "message": _STR, "message_id": _INT},
        }
    },
}
_TOTALS = {
    "type": "object",
    "properties": {
        key: _NUM if key == "cost_usd" else _INT
        for key in (
            "calls",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "cost_usd",
            "unpriced_calls",
        )
    },
}
_SCHEMAS: dict[str, Any] = {
    "Error": _ERROR,
    "Health": {
        "type": "object",
        "properties": {
            "status": _STR,
            "uptime_s": _NUM,
            "components": {"type": "object"},
            "agents": {"type": "object"},
        },
    },
    "Agents": {
        "type": "object",
        "properties": {
            "agents": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": _STR,
                        "model": _STR,
                        "tools": {"type": "array", "items": _STR},
                        "busy_sessions": _INT,
                        "queued": _INT,
                    },
                },
            }
        },
    },
    "MessageIn": {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {"text": {"type": "string", "minLength": 1}, "session": _STR},
    },
    "TurnOut": {
        "type": "object",
        "properties": {
            "message_id": _INT,
            "agent": _STR,
            "session": _STR,
            "status": _STR,
            "text": _STR,
            "input_tokens": _INT,
            "output_tokens": _INT,
            "cost_usd": _NUM,
            "duration_ms": _INT,
        },
    },
    "Sessions": {
        "type": "object",
        "properties": {
            "sessions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"key": _STR, "messages": _INT, "updated_at": _STR},
                },
            }
        },
    },
    "History": {
        "type": "object",
        "properties": {
            "messages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "role": _STR,
                        "text": _STR,
                        "tool_calls": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"id": _STR, "name": _STR, "arguments": _STR},
                            },
                        },
                        "tool_call_id": {"type": ["string", "null"]},
                        "tool_name": {"type": ["string", "null"]},
                        "is_error": {"type": "boolean"},
                    },
                },
            }
        },
    },
    "Reset": {"type": "object", "properties": {"reset": {"type": "boolean"}}},
    "Usage": {
        "type": "object",
        "properties": {
            "since": {"type": ["string", "null"]},
            "total": _TOTALS,
            "by_agent": {"type": "object", "additionalProperties": _TOTALS},
            "by_model": {"type": "object", "additionalProperties": _TOTALS},
        },
    },
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _op(summary: str, ok: str, *errors: int, **extra: Any) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _json("OK", ok)}
    for status in (401, 403, 429, *errors):
        responses[str(status)] = _json(_REASONS[status], "Error")
    return {"summary": summary, "responses": responses, **extra}


_REASONS = {
    400: "Bad request (the message names the field)",
    401: "Missing or wrong token",
    403: "Host or Origin not allowed (gateway.allowed_hosts, gateway.allowed_origins)",
    404: "Unknown agent or session",
    413: "Body larger than gateway.max_frame_bytes",
    429: "Too many authentication failures (from this address, or from all)",
    503: "Shutting down",
    504: "No answer within timeout_s (the turn goes on)",
}
_NAME = {"name": "name", "in": "path", "required": True, "schema": _STR}
_KEY = {"name": "key", "in": "path", "required": True, "schema": _STR}


def _service_paths() -> dict[str, Any]:
    """The routes without a token (but /metrics) and outside /api."""
    return {
        "/healthz": {
            "get": {
                "summary": "Liveness and components",
                "security": [],
                "responses": {"200": _json("OK", "Health")},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "OK", "content": {"text/plain": {}}}},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "OK"}},
            }
        },
    }


def _api_paths() -> dict[str, Any]:
    since = {"name": "since", "in": "query", "schema": _STR, "description": "YYYY-MM-DD or ISO"}
    limit = {"name": "limit", "in": "query", "schema": {**_INT, "minimum": 1, "maximum": 1000}}
    timeout = {"name": "timeout_s", "in": "query", "schema": {**_NUM, "default": 300}}
    body = {"required": True, "content": {"application/json": {"schema": _ref("MessageIn")}}}
    return {
        "/api/agents": {"get": _op("List the agents", "Agents")},
        "/api/agents/{name}/messages": {
            "post": _op(
                "Send a message and wait for the answer",
                "TurnOut",
                *(400, 404, 413, 503, 504),
                parameters=[_NAME, timeout],
                requestBody=body,
            )
        },
        "/api/agents/{name}/sessions": {
            "get": _op("List an agent's sessions", "Sessions", 404, parameters=[_NAME])
        },
        "/api/agents/{name}/sessions/{key}/messages": {
            "get": _op(
                "A session's messages, oldest first",
                "History",
                400,
                404,
                parameters=[_NAME, _KEY, limit],
            )
        },
        "/api/agents/{name}/sessions/{key}": {
            "delete": _op("Forget a session's history", "Reset", 404, parameters=[_NAME, _KEY])
        },
        "/api/usage": {
            "get": _op("Spend and tokens from the ledger", "Usage", 400, parameters=[since])
        },
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Roost gateway",
            "version": __version__,
            "description": "Roost's HTTP API. The WebSocket API (/ws) is in docs/protocol.md.",
        },
        "paths": {**_service_paths(), **_api_paths()},
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "query": {"type": "apiKey", "in": "query", "name": "token"},
            },
        },
        "security": [{"bearer": []}, {"query": []}],
    }
