"""mobile_api_docs/ is generated from the app: the committed files must be the current ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from api.app import export_text
from api.catalogue import VERIFICATION_HINTS, entries, missing_hints, render_markdown
from api.errors import PROBLEM_MEDIA_TYPE
from api.openapi import PROBLEM_SCHEMA

DOCS = Path(__file__).resolve().parents[2] / "mobile_api_docs"
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def spec_text() -> str:
    return export_text()


@pytest.fixture(scope="module")
def spec(spec_text: str) -> dict:
    return json.loads(spec_text)


def operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_committed_openapi_document_is_current(spec_text: str) -> None:
    committed = (DOCS / "openapi.json").read_text(encoding="utf-8")
    assert committed == spec_text, (
        "mobile_api_docs/openapi.json is stale: run `crda export-openapi` and commit it"
    )


def test_export_is_deterministic(spec_text: str) -> None:
    assert export_text() == spec_text


def test_committed_error_catalogue_is_current(spec_text: str) -> None:
    committed = (DOCS / "errors.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), (
        "mobile_api_docs/errors.md is stale: run `crda export-errors` and commit it"
    )


def test_every_problem_type_says_when_it_happens_and_what_to_show(spec_text: str) -> None:
    assert missing_hints() == [], "add these slugs to HINTS in api/catalogue.py"


def test_every_verification_problem_type_is_catalogued() -> None:
    source = (Path(__file__).resolve().parents[2] / "identity" / "verify.py").read_text()
    slugs = set(re.findall(r'"(credential-[a-z-]+)"', source))
    assert slugs <= set(VERIFICATION_HINTS), slugs - set(VERIFICATION_HINTS)


def test_operation_ids_are_unique_and_tagged(spec: dict) -> None:
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids))
    for path, _method, op in operations(spec):
        tag = op["tags"][0] if op.get("tags") else "default"
        assert op["operationId"].startswith(f"{tag}-"), path


def test_every_error_response_is_problem_details(spec: dict) -> None:
    assert PROBLEM_SCHEMA in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, method, op in operations(spec):
        responses = op["responses"]
        assert "default" in responses, (method, path)
        for status, response in responses.items():
            if status == "default" or status[0] in "45":
                schema = response["content"][PROBLEM_MEDIA_TYPE]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}, (
                    method,
                    path,
                    status,
                )
                assert set(response["content"]) == {PROBLEM_MEDIA_TYPE}


def test_secured_operations_declare_401_and_403(spec: dict) -> None:
    scheme = spec["components"]["securitySchemes"]["HTTPBearer"]
    assert scheme["scheme"] == "bearer" and scheme["bearerFormat"] == "JWT"
    secured = [(p, m, op) for p, m, op in operations(spec) if op.get("security")]
    assert secured
    for path, method, op in secured:
        assert {"401", "403"} <= set(op["responses"]), (method, path)


def test_every_catalogued_status_is_declared_somewhere(spec: dict) -> None:
    declared = {s for _, _, op in operations(spec) for s in op["responses"]}
    assert "default" in declared  # anything else still arrives as problem details
    for entry in entries():
        if entry.status in (400, 405, 500, 502):
            continue  # covered by each operation's `default` problem response
        assert str(entry.status) in declared, entry.type


def test_servers_and_version(spec: dict) -> None:
    assert spec["info"]["version"]
    assert spec["servers"][0]["url"].startswith("http")


def test_examples_match_their_schemas(spec: dict) -> None:
    import jsonschema_rs  # schemathesis's validator

    checked = 0
    for name, component in spec["components"]["schemas"].items():
        root = {**component, "components": spec["components"]}
        validator = jsonschema_rs.Draft202012Validator(root)
        for example in component.get("examples", []):
            errors = [e.message for e in validator.iter_errors(example)]
            assert not errors, (name, errors)
            checked += 1
    assert checked >= 5
