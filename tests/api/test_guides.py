"""The mobile guides stay honest: what they show the app team exists in the app.

- every ``METHOD /path`` request line in a guide's code block is an operation of the app's
  OpenAPI document (a concrete id in the guide matches the ``{param}`` of the path), and the
  top-level fields of the JSON body under it are fields of that operation's request body;
- every ``/problems/<slug>`` a guide names is a problem type of the error registry.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.catalogue import VERIFICATION_HINTS, entries
from api.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "mobile_api_docs"
# Hand-written guides; errors.md is generated from the registry itself.
GUIDES = sorted(p for p in DOCS.glob("*.md") if p.name != "errors.md")
REQUEST_LINE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (/\S*)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
PROBLEM = re.compile(r"/problems/([a-z0-9][a-z0-9-]*[a-z0-9])")


@cache
def spec() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def template_pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile(
        "^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$"
    )


def find_operation(method: str, path: str) -> dict[str, Any] | None:
    """The operation for a concrete path; a literal path wins over a templated one."""
    paths = spec()["paths"]
    if path in paths:
        return paths[path].get(method.lower())
    for template, item in paths.items():
        if "{" in template and template_pattern(template).match(path):
            if method.lower() in item:
                return item[method.lower()]
    return None


def body_fields(operation: dict[str, Any]) -> set[str] | None:
    """The request body's top-level properties (None when it has no JSON body)."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    schema = content["schema"]
    if "$ref" in schema:
        schema = spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return set(schema.get("properties", {}))


def requests() -> list[tuple[str, str, str, str]]:
    """(guide, method, path, body) of every request line in a code block of the guides."""
    found = []
    for guide in GUIDES:
        for block in FENCE.findall(guide.read_text(encoding="utf-8")):
            lines = block.splitlines()
            if not lines or not (match := REQUEST_LINE.match(lines[0])):
                continue
            method, target = match.groups()
            # Headers follow the request line; the body follows the first blank line.
            rest = "\n".join(lines[1:])
            body = rest.split("\n\n", 1)[1].strip() if "\n\n" in rest else ""
            found.append((guide.name, method, target.split("?", 1)[0], body))
    return found


def test_the_guides_show_requests() -> None:
    shown = {guide for guide, *_ in requests()}
    for name in ("earning.md", "wallet.md", "trading.md", "retirement.md"):
        assert name in shown, f"{name} shows no request in a code block"


@pytest.mark.parametrize(
    ("guide", "method", "path", "body"),
    requests(),
    ids=[f"{g}:{m} {p}" for g, m, p, _ in requests()],
)
def test_every_request_in_the_guides_is_an_operation_with_those_fields(
    guide: str, method: str, path: str, body: str
) -> None:
    operation = find_operation(method, path)
    assert operation is not None, f"{guide}: {method} {path} is not in the OpenAPI document"
    if not body:
        return
    fields = body_fields(operation)
    assert fields is not None, f"{guide}: {method} {path} takes no JSON body"
    try:
        sent = json.loads(body)
    except json.JSONDecodeError as exc:
        pytest.fail(f"{guide}: the body of {method} {path} is not JSON: {exc}")
    assert set(sent) <= fields, f"{guide}: {method} {path} has no fields {set(sent) - fields}"


def test_every_problem_type_named_in_the_guides_is_registered() -> None:
    registered = {e.slug for e in entries()} | set(VERIFICATION_HINTS)
    unknown = {
        f"{guide.name}: /problems/{slug}"
        for guide in GUIDES
        for slug in PROBLEM.findall(guide.read_text(encoding="utf-8"))
        if slug not in registered
    }
    assert not unknown, sorted(unknown)


def test_the_path_matcher_takes_concrete_ids_and_elided_ones() -> None:
    assert find_operation("GET", "/earning/claims/0x06a6…1537/proof") is not None
    assert find_operation("POST", "/market/orders/2/cancel") is not None
    assert find_operation("GET", "/market/orders/2/nothing") is None
    assert find_operation("DELETE", "/market/orders") is None
