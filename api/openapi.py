"""The OpenAPI document the mobile team generates its clients from.

FastAPI builds the document from the routes; :func:`build_openapi` then post-processes every
operation once, so a route written tomorrow is documented the same way without touching it:

- one ``ProblemDetails`` schema (RFC 9457) is the ``application/problem+json`` body of every
  4xx/5xx response, replacing FastAPI's ``HTTPValidationError``;
- every operation declares the error statuses it can answer: 422 when it takes input, 401 and
  403 when it needs a bearer token, 404 when its path names something, 409 when it writes,
  503 (database or chain down) everywhere but ``/healthz``, 429 (a rate limit, with
  ``Retry-After``) on every operation a limit applies to (all but the health checks,
  ``api.deps.UNTHROTTLED``),
  and ``default`` for anything else; a route declares a rarer one
  (``responses={409: {"description": ...}}``) and the body is filled in here;
- every ``Idempotency-Key`` header states what ``api.idempotency`` accepts (1-255 visible
  characters);
- every string path or query parameter without a pattern of its own says it holds no NUL
  character (every route refuses one: ``api.deps.refuse_nul_characters``);
- the bearer scheme says it carries a JWT, and the servers and version are stated.

``crda export-openapi`` writes the result, with sorted keys, to ``mobile_api_docs/openapi.json``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.clientgen import generate
from api.deps import NO_NUL_PATTERN, UNTHROTTLED
from api.errors import PROBLEM_MEDIA_TYPE
from api.idempotency import MAX_KEY_LENGTH

PROBLEM_SCHEMA = "ProblemDetails"
PROBLEM_REF = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}
BEARER_SCHEME = "HTTPBearer"
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
# Operations that consult nothing (no database, no chain), so never answer 503.
NO_DEPENDENCIES = frozenset({"health-healthz"})

DESCRIPTION = """\
The backend of Incheon's carbon-reduction app. Amounts are integer grams of CO2e
(1 CRDA = 1 kg = 1000 g); times are RFC 3339 in UTC. Every error is an RFC 9457 problem
(`application/problem+json`) whose `type` (`/problems/<slug>`) is stable: key messages on it.
Guides and the error catalogue: `mobile_api_docs/` (README.md, errors.md)."""

SERVERS = [
    {"url": "http://127.0.0.1:8000", "description": "local development (`make up`)"},
]

_PROBLEM_COMPONENT: dict[str, Any] = {
    "title": PROBLEM_SCHEMA,
    "type": "object",
    "description": (
        "RFC 9457 problem details. `type` names the problem (see the error catalogue); "
        "other members are extensions (e.g. `errors` for validation, `error_name` and "
        "`tx_hash` for a refusal by the chain, `retry_after` in seconds)."
    ),
    "required": ["type", "title", "status"],
    "properties": {
        "type": {
            "type": "string",
            "description": "The problem type, `/problems/<slug>`; stable.",
            "examples": ["/problems/validation-error"],
        },
        "title": {"type": "string", "description": "A short, human-readable summary."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong this time."},
        "instance": {"type": "string", "description": "The request path."},
        "errors": {
            "type": "array",
            "description": "For `/problems/validation-error`: one entry per invalid field.",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
    "examples": [
        {
            "type": "/problems/not-found",
            "title": "Not found",
            "status": 404,
            "detail": "no such credential",
            "instance": "/credentials/0d9c5b1e-1d53-4f6b-a2a4-5a3c3c8a1f00",
        }
    ],
}

STATUS_DESCRIPTIONS = {
    "400": "The request is malformed.",
    "401": "No valid access token (`/problems/invalid-token`) or wrong credentials.",
    "403": "Authenticated, but not allowed to do this (role or ownership).",
    "404": "The thing named in the path does not exist (or is not visible to you).",
    "409": "The request conflicts with the current state (or the chain refused it).",
    "422": "The request is not valid (`/problems/validation-error` lists the fields).",
    "429": (
        "Too many requests (`/problems/too-many-requests`: per client address, or per account "
        "when signed in); wait `retry_after` seconds (the `Retry-After` header says the same)."
    ),
    "500": "Internal error (a bug; the request id helps us find it).",
    "503": "A service the API needs (database, chain) is unavailable; retry later.",
    "default": "Any other error, as problem details.",
}


RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "Seconds to wait before trying again (the body's `retry_after`).",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def _problem_response(status: str, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    response = dict(existing or {})
    description = response.get("description")
    if not description or description in ("Validation Error", "Unprocessable Entity"):
        description = STATUS_DESCRIPTIONS.get(status, STATUS_DESCRIPTIONS["default"])
    response["description"] = description
    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}
    if status == "429":
        response["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
    return response


def _is_error(status: str) -> bool:
    return status == "default" or status[:1] in ("4", "5")


def _error_statuses(path: str, method: str, operation: dict[str, Any]) -> set[str]:
    statuses = {"default"}
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add("422")
    if operation.get("security"):
        statuses |= {"401", "403"}
    if "{" in path:
        statuses.add("404")
    if method in WRITE_METHODS:
        statuses.add("409")
    if operation.get("operationId") not in NO_DEPENDENCIES:
        statuses.add("503")
    if path not in UNTHROTTLED:
        statuses.add("429")
    return statuses


def _nullable(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or any(
        option.get("type") == "null" for option in schema.get("anyOf", [])
    )


def _restore_nulls(component: dict[str, Any], schemas: dict[str, Any]) -> None:
    """FastAPI drops every ``None`` from the document, nulls in examples too: put them back
    (a required nullable member, at any depth the schemas describe)."""
    for example in component.get("examples", []):
        _restore_example_nulls(example, component, schemas)


def _restore_example_nulls(example: Any, schema: dict[str, Any], schemas: dict[str, Any]) -> None:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = schemas.get(ref.rsplit("/", 1)[-1], {})
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            _restore_example_nulls(example, option, schemas)
    if isinstance(example, list):
        for item in example:
            _restore_example_nulls(item, schema.get("items", {}), schemas)
    if not isinstance(example, dict):
        return
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in example and _nullable(properties.get(name, {})):
            example[name] = None
    for name, value in example.items():
        if name in properties:
            _restore_example_nulls(value, properties[name], schemas)


# An Idempotency-Key, as api.idempotency.check_key takes it: 1-255 printable characters, of
# which the document promises the visible ASCII ones (a UUID is what the guides ask for), with
# no space at either end (HTTP strips it, leaving another key).
IDEMPOTENCY_KEY_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_KEY_LENGTH,
    "pattern": r"^[!-~](?:[ -~]*[!-~])?$",
    "examples": ["6f1c2b7e-3d4a-4e5f-9a8b-1c2d3e4f5a6b"],
}
IDEMPOTENCY_KEY_DESCRIPTION = (
    "A fresh UUID per user action: a retry with the same key and body answers the first result "
    "(`Idempotent-Replayed: true`) and does nothing twice; the same key with another body is "
    "`/problems/idempotency-key-reused`."
)


def _parameter(parameter: dict[str, Any]) -> None:
    """What the platform enforces of a parameter, stated (see the module's docstring)."""
    if parameter.get("in") == "header" and parameter.get("name", "").lower() == "idempotency-key":
        parameter["schema"] = dict(IDEMPOTENCY_KEY_SCHEMA)
        parameter.setdefault("description", IDEMPOTENCY_KEY_DESCRIPTION)
    if parameter.get("in") in ("path", "query"):
        _exclude_nul(parameter.get("schema", {}))


def _exclude_nul(schema: dict[str, Any]) -> None:
    """A free-text parameter (a string with no pattern, enum or format) excludes NUL."""
    for option in schema.get("anyOf", []):
        _exclude_nul(option)
    if schema.get("type") == "string" and not {"pattern", "enum", "format", "const"} & set(schema):
        schema["pattern"] = NO_NUL_PATTERN


def postprocess(schema: dict[str, Any]) -> dict[str, Any]:
    """Problem responses, security and servers on a FastAPI-built document (in place)."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for component in schemas.values():
        _restore_nulls(component, schemas)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas[PROBLEM_SCHEMA] = _PROBLEM_COMPONENT
    schemes = components.setdefault("securitySchemes", {})
    schemes[BEARER_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from `/auth/sign-in`, `/auth/siwe` or `/auth/refresh`.",
    }
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "delete", "patch", "head", "options"):
                continue
            for parameter in operation.get("parameters", []):
                _parameter(parameter)
            responses: dict[str, Any] = operation.setdefault("responses", {})
            wanted = {s for s in responses if _is_error(s)} | _error_statuses(
                path, method, operation
            )
            for status in wanted:
                responses[status] = _problem_response(status, responses.get(status))
            operation["responses"] = dict(sorted(responses.items()))
    schema["servers"] = SERVERS
    return schema


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, post-processed (cached on the app like FastAPI does)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=DESCRIPTION,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    app.openapi_schema = postprocess(schema)
    return app.openapi_schema


def install_openapi(app: FastAPI) -> None:
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]


def render(schema: dict[str, Any]) -> str:
    """Deterministic text: sorted keys, two-space indent, a final newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def client_text(document: str) -> str:
    """``crda_client/_generated.py`` for the document (operations table, typed bodies)."""
    return generate(json.loads(document))
