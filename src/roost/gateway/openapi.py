"""The OpenAPI 3.1 description of the HTTP API, served at /openapi.json.

Generated from what the server itself uses: the routes' table (``http_api.OPERATIONS``)
and the pydantic models of their query parameters, bodies and replies, so the
document cannot drift from the server. Loaded on the first request for it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from roost import __version__
from roost.gateway.http_api import OPERATIONS, Operation
from roost.gateway.models import ErrorBody

REF = "#/components/schemas/{model}"
PATH_SEGMENT = {"type": "string", "pattern": r"^(?!\.\.?$)[^/]+$"}
"""A path parameter: one segment, not ``.`` or ``..`` (which clients resolve away)."""

REASONS = {
    400: "Bad request (the message names the field)",
    401: "Missing or wrong token",
    403: "Host or Origin not allowed (gateway.allowed_hosts, gateway.allowed_origins)",
    404: "Unknown agent, session or route",
    413: "Body larger than gateway.max_frame_bytes",
    429: "Too many authentication failures (from this address, or from all)",
    503: "Shutting down (shutting_down), or the database file is gone (storage_gone)",
    504: "No answer within timeout_s (the turn goes on)",
    507: "The disk or the database is full (storage_full); nothing was accepted",
}


@cache
def openapi_document() -> dict[str, Any]:
    refs, schemas = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Roost gateway",
            "version": __version__,
            "description": "Roost's HTTP API. The WebSocket API (/ws) is in docs/protocol.md.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "query": {"type": "apiKey", "in": "query", "name": "token"},
            },
        },
        "security": [{"bearer": []}, {"query": []}],
    }


Refs = dict[tuple[Any, JsonSchemaMode], dict[str, Any]]


def _schemas() -> tuple[Refs, dict[str, Any]]:
    """Every body and reply model as a component (what the server reads: validation
    mode; what it writes: serialization mode)."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for operation in OPERATIONS:
        if operation.reply is not None:
            wanted.append((operation.reply, "serialization"))
        if operation.body is not None:
            wanted.append((operation.body, "validation"))
    refs, definitions = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    return dict(refs), definitions.get("$defs", {})


def _operation(operation: Operation, refs: Refs) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _ok(operation, refs)}
    errors = operation.errors if operation.public else (401, 403, 429, *operation.errors)
    for status in sorted(set(errors)):
        responses[str(status)] = _json(REASONS[status], refs[(ErrorBody, "serialization")])
    if operation.links:
        responses["200"]["links"] = {
            name: {"operationId": target, "parameters": dict(parameters)}
            for name, target, parameters in operation.links
        }
    spec: dict[str, Any] = {
        "operationId": operation.handler,
        "summary": operation.summary,
        "responses": responses,
    }
    parameters = _path_parameters(operation.path) + _query_parameters(operation)
    if parameters:
        spec["parameters"] = parameters
    if operation.body is not None:
        schema = refs[(operation.body, "validation")]
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    if operation.public:
        spec["security"] = []
    return spec


def _ok(operation: Operation, refs: Refs) -> dict[str, Any]:
    if operation.reply is not None:
        return _json("OK", refs[(operation.reply, "serialization")])
    if operation.path == "/metrics":
        return {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
    return {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [
        {"name": name, "in": "path", "required": True, "schema": PATH_SEGMENT} for name in names
    ]


def _query_parameters(operation: Operation) -> list[dict[str, Any]]:
    if operation.query is None:
        return []
    schema = operation.query.model_json_schema(mode="validation")
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema.get("properties", {}).items():
        field = _without_null(field)
        parameter = {"name": name, "in": "query", "required": name in required, "schema": field}
        if "description" in field:
            parameter["description"] = field["description"]
        parameters.append(parameter)
    return parameters


def _without_null(field: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string, never null: ``X | None = None`` is ``X``."""
    field = {key: value for key, value in field.items() if key != "title"}
    options = [option for option in field.get("anyOf", ()) if option != {"type": "null"}]
    if "anyOf" in field and len(options) < len(field["anyOf"]):
        del field["anyOf"]
        if field.get("default", "") is None:
            del field["default"]
        field = {**options[0], **field} if len(options) == 1 else {"anyOf": options, **field}
    return field
