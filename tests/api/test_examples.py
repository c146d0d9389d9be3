"""Every request and response body in the OpenAPI document shows a payload that is valid.

The examples live on the models (``json_schema_extra``, values from ``api/examples.py``); the
mobile team reads them in the document, so each operation's JSON body has one, and each one is
checked twice: against its schema in the document (JSON Schema 2020-12, as a client generator
sees it) and through its own pydantic model (as the API would read it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from pydantic import BaseModel

from api.app import create_app
from api.settings import Settings

METHODS = ("get", "put", "post", "delete", "patch")
REF_PREFIX = "#/components/schemas/"
PAGE_PREFIX = "Page_"

# Bodies with no component schema, so no example: free-form JSON objects whose shape is not
# the API's to describe (a DID document, a DID resolution, a JWK set) or a dictionary of
# reconciliation figures that grows with the ledger. Their operations' descriptions say what
# they hold.
FREE_FORM = {
    "GET /verifiers/{verifier_id}/did.json 200",
    "GET /identifiers/{did} 200",
    "GET /.well-known/jwks.json 200",
    "GET /market/reconciliation 200",
    "GET /audit/reconciliation 200",
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def _body_schemas(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, schema) for each JSON request body and 2xx JSON response of each operation."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                yield f"{where} request", content["application/json"].get("schema", {})
            for status, response in operation.get("responses", {}).items():
                media = response.get("content", {}).get("application/json")
                if status.startswith("2") and media is not None:
                    yield f"{where} {status}", media.get("schema") or {}


def _component(schema: dict[str, Any], schemas: dict[str, Any]) -> str | None:
    """The component a body shows: through ``$ref``, list items and cursor pages."""
    if schema.get("type") == "array":
        return _component(schema.get("items", {}), schemas)
    ref = schema.get("$ref")
    if ref is None:
        return None  # an inline, free-form object (a DID document, JWKS, a report dict)
    name = ref.removeprefix(REF_PREFIX)
    if name.startswith(PAGE_PREFIX):
        return _component(schemas[name]["properties"]["items"], schemas)
    return name


def test_every_body_has_an_example(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    shown: dict[str, str] = {}
    free_form = set()
    for where, schema in _body_schemas(document):
        if not schema:
            # The audit exports stream a listing's rows (CSV or JSON) and declare no schema;
            # the listing itself has the rows' schema and its example.
            assert where.endswith("/export 200"), f"{where}: a JSON body without a schema"
            continue
        # A body of several shapes (``oneOf``) shows an example of each.
        for option in schema.get("oneOf", [schema]):
            name = _component(option, schemas)
            if name is None:
                free_form.add(where)
            else:
                shown.setdefault(name, where)
    assert free_form == FREE_FORM
    assert len(shown) > 60, "the walk over the document found too few bodies"
    missing = sorted(
        f"{name} ({where})" for name, where in shown.items() if not schemas[name].get("examples")
    )
    assert not missing, "body schemas without an example:\n" + "\n".join(missing)


def _examples(document: dict[str, Any]) -> list[tuple[str, int, Any]]:
    return [
        (name, index, example)
        for name, schema in sorted(document["components"]["schemas"].items())
        for index, example in enumerate(schema.get("examples", []))
    ]


def test_examples_are_valid_against_their_schema(document: dict[str, Any]) -> None:
    components = document["components"]
    examples = _examples(document)
    assert len(examples) > 60
    failures = []
    for name, index, example in examples:
        validator = jsonschema_rs.Draft202012Validator(
            {"$ref": REF_PREFIX + name, "components": components}, validate_formats=True
        )
        failures += [
            f"{name}[{index}] at {'/'.join(map(str, error.instance_path))}: {error.message}"
            for error in validator.iter_errors(example)
        ]
    assert not failures, "\n".join(failures)


def _models_with_examples() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        model = pending.pop()
        for sub in model.__subclasses__():
            pending.append(sub)
            extra = sub.model_config.get("json_schema_extra")
            if sub.__module__.startswith("api.") and isinstance(extra, dict):
                if extra.get("examples"):
                    found.append(sub)
    return sorted(set(found), key=lambda model: model.__qualname__)


def test_examples_are_read_by_their_models(document: dict[str, Any]) -> None:
    models = _models_with_examples()
    assert len(models) > 60
    failures = []
    for model in models:
        extra = model.model_config["json_schema_extra"]
        assert isinstance(extra, dict)
        examples = extra["examples"]
        assert isinstance(examples, list)
        for index, example in enumerate(examples):
            try:
                model.model_validate_json(json.dumps(example))
            except ValueError as exc:
                failures.append(f"{model.__module__}.{model.__qualname__}[{index}]: {exc}")
    assert not failures, "\n".join(failures)
