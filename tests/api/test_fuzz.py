"""The API's contract under fuzzing: every operation, as every role, from the OpenAPI document.

Schemathesis generates requests from the app's own document (valid ones, and invalid ones
that the API must refuse) and each answer is checked: never a server error, the status code,
content type, headers and body as declared, and every 4xx/5xx an RFC 9457 problem.

Each request is sent as one of the roles (an anonymous caller, a citizen, a business, a
verifier's desk, a data provider, an auditor, an operator), and half the time with path
parameters that name real things (the caller's own account, a real verifier, a real
credential, a DID that resolves), so the fuzzer reaches past the 404s.

Bounded in the normal suite: one test per operation, each example drawn as a random role
(``CRDA_FUZZ_EXAMPLES``, default 25 per operation, derandomized). The long run
(``crda fuzz --examples 500``, which sets ``CRDA_FUZZ_EXAMPLES``) tests every operation as
every role separately, that many examples each.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from api.app import create_app
from api.audit.indexer import Indexer
from api.auth import service as auth_service
from api.auth.models import Role
from api.chain.gateway import ChainGateway, NonceManager
from api.errors import PROBLEM_MEDIA_TYPE
from api.settings import PROJECT_ROOT, Settings
from tests.conftest import Accounts
from tests.world import PASSWORD, User, World

EXAMPLES = int(os.environ.get("CRDA_FUZZ_EXAMPLES", "25"))
LONG_RUN = "CRDA_FUZZ_EXAMPLES" in os.environ
ROLES = ("anonymous", *(r.value for r in Role))
METHODS = ("get", "put", "post", "delete", "patch")


def _operations() -> list[tuple[str, str, bool]]:
    """(method, path, secured) of every operation, read from the app at collection time."""
    document = create_app(Settings()).openapi()
    return [
        (method.upper(), path, bool(op.get("security")))
        for path, item in sorted(document["paths"].items())
        for method, op in sorted(item.items())
        if method in METHODS
    ]


ANY_ROLE = "any"


def _roles(secured: bool) -> tuple[str, ...]:
    """Public operations do not look at the caller: they are fuzzed anonymously."""
    return ROLES if secured else ("anonymous",)


# The long run: each (role, operation) its own test; the bounded run: each operation once,
# its role drawn per example.
CASES = [
    pytest.param(role, method, path, id=f"{role}-{method}-{path}")
    for method, path, secured in _operations()
    for role in (_roles(secured) if LONG_RUN else (ANY_ROLE,))
]


# Figures of the run: requests and answers per operation (written to var/fuzz/report.json).
STATS: dict[str, Counter[str]] = {}


@dataclass
class Cast:
    """Who calls, and real things for path parameters to name."""

    client: TestClient
    users: dict[str, User]
    real: dict[str, str]


@pytest.fixture(scope="module")
def cast(
    app: FastAPI,
    settings: Settings,
    session_gateway: ChainGateway,
    accounts: Accounts,
) -> Iterator[Cast]:
    w3 = session_gateway.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    with TestClient(app) as client:
        world = World(client, settings, session_gateway, accounts)
        org, desk = world.verifier()
        citizen = world.sign_up()
        credential = world.issue(desk, citizen)
        assert credential.status_code == 201, credential.text
        users = {
            "citizen": citizen,
            "business": world.sign_up(role="business"),
            "verifier": desk,
            "auditor": world.staff(Role.auditor),
            "operator": world.operator(),
        }
        email = f"provider-{uuid.uuid4().hex[:8]}@merchant.example"
        with world.db() as session:
            auth_service.create_account(
                session, settings, email=email, password=PASSWORD, role=Role.data_provider
            )
        users["data_provider"] = world.sign_in(email)
        # The auditor's routes read the index: bring it up to the chain first.
        Indexer.from_settings(settings, client.app.state.crda.sessions).run()
        real = {
            "verifier_id": org["id"],
            "did": org["did"],
            "credential_id": credential.json()["id"],
        }
        yield Cast(client, users, real)
    report = PROJECT_ROOT / "var" / "fuzz" / "report.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        json.dumps(
            {
                "examples": EXAMPLES,
                "per": "operation and role" if LONG_RUN else "operation (random roles)",
                "operations": {k: dict(sorted(v.items())) for k, v in sorted(STATS.items())},
            },
            indent=2,
        )
    )
    reverted = w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
    assert reverted.get("result") is True, reverted
    session_gateway.nonces = NonceManager(w3)


@pytest.fixture(scope="module")
def schema(app: FastAPI, cast: Cast) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def problem_details_on_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx is application/problem+json with type, title and status."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith(PROBLEM_MEDIA_TYPE), (
        f"{response.status_code} answered as {content_type!r}, not problem details"
    )
    body = response.json()
    assert isinstance(body, dict), body
    assert body.get("type", "").startswith("/problems/"), body
    assert body.get("status") == response.status_code, body
    assert isinstance(body.get("title"), str), body
    return True


CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    problem_details_on_errors,
]


@pytest.mark.parametrize(("role", "method", "path"), CASES)
def test_operation_keeps_its_contract(
    schema: Any, cast: Cast, role: str, method: str, path: str
) -> None:
    operation = schema[path][method]
    secured = bool(operation.definition.raw.get("security"))
    roles = _roles(secured) if role == ANY_ROLE else (role,)

    def cases_as(who: str) -> st.SearchStrategy[tuple[str, Any]]:
        user = cast.users.get(who)
        real = dict(cast.real)
        if user is not None:
            real["account_id"] = user.id
        if method == "DELETE" and path.endswith("/personal-data"):
            real.pop("account_id", None)  # erasing the caller would end the run's session
        if path.endswith("/deactivate"):
            real.pop("verifier_id", None)  # deactivating the verifier would end its desk
        fixed = {k: v for k, v in real.items() if f"{{{k}}}" in path}
        strategies = [
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        ]
        if fixed:
            strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed))
        return st.tuples(st.just(who), st.one_of(strategies))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not LONG_RUN,
        database=None,
        # The bounded run reports the first failing request as found (no slow shrinking).
        phases=list(Phase) if LONG_RUN else [Phase.explicit, Phase.generate, Phase.target],
        suppress_health_check=list(HealthCheck),
    )
    @given(drawn=st.one_of([cases_as(who) for who in roles]))
    def run(drawn: tuple[str, Any]) -> None:
        who, case = drawn
        user = cast.users.get(who)
        headers = user.headers if user else {}
        response = case.call(headers=headers)
        counts = STATS.setdefault(f"{method} {path}", Counter())
        counts["requests"] += 1
        counts[str(response.status_code)] += 1
        counts[f"as {who}"] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)
        if secured and user is None:
            # 401, or 400/422 when the request is malformed before the token is looked at.
            assert response.status_code in (400, 401, 422), (
                f"{method} {path} answered {response.status_code} without a token"
            )

    run()
