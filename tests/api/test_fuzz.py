"""The API's contract under fuzzing: every operation, as every role, from the OpenAPI document.

Schemathesis generates requests from the app's own document (valid ones, and invalid ones
that the API must refuse) and every check it has judges each answer (the library's equivalent
of ``schemathesis run --checks all``): never a server error; status code, content type,
headers and body as declared; a request the document calls valid is accepted and one it calls
invalid refused; a missing required header refused; an undeclared method answered 405 with
``Allow``; a secured operation refusing a missing or wrong token; a deleted resource gone and
a created one there (on the inferred links). ``tests/api/contract.py`` adds the API's own:
every 4xx/5xx is an RFC 9457 problem, and refines the positive-data check (a 422 naming a
domain rule, such as a signature that does not match its record, is not a schema disagreement;
a ``/problems/validation-error`` is). No check is turned off.

Three kinds of request, each as one of the roles (an anonymous caller, a citizen, a business,
a verifier's desk, a data provider, an auditor, an operator):

- the coverage phase's deterministic requests (boundary values, each constraint broken once,
  every undeclared method, each required header left out, a wrong content type);
- generated requests, positive and negative, half the time with path parameters that name
  real things (the caller's own account, a real verifier, a real credential, a DID that
  resolves), so the fuzzer reaches past the 404s;
- stateful scenarios along the links schemathesis infers (create, then read, then delete),
  as a caller of their own (a scenario may erase its caller's personal data).

Bounded in the normal suite: one test per operation, each request's role drawn in turn
(``CRDA_FUZZ_EXAMPLES``, default 25 generated per operation, derandomized; the coverage
requests that only that phase sends, and a sample of the others), and stateful scenarios as a
citizen. The long run (``crda fuzz --examples 500``, which sets ``CRDA_FUZZ_EXAMPLES``) tests
every operation as every role separately, with every coverage request, that many examples
each, and stateful scenarios as every role.
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
from schemathesis.checks import CHECKS
from schemathesis.generation import GenerationMode
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.meta import CoverageScenario
from schemathesis.generation.overrides import Override

from api.app import create_app
from api.audit.indexer import Indexer
from api.auth import service as auth_service
from api.auth.models import Role
from api.chain.gateway import ChainGateway, NonceManager
from api.settings import PROJECT_ROOT, Settings
from tests.api import contract
from tests.conftest import Accounts
from tests.world import PASSWORD, User, World

EXAMPLES = int(os.environ.get("CRDA_FUZZ_EXAMPLES", "25"))
LONG_RUN = "CRDA_FUZZ_EXAMPLES" in os.environ
# The bounded pass runs once in CI, in its PostgreSQL pass: PostgreSQL refuses what SQLite
# stores (an over-long string, a NUL byte, an out-of-range integer), so a request the API lets
# through to such a column fails there only; the contract does not otherwise differ by
# database. The long run (``crda fuzz``) runs on whichever database it is given.
pytestmark = [] if LONG_RUN else [pytest.mark.postgres_pass]
ROLES = ("anonymous", *(r.value for r in Role))
METHODS = ("get", "put", "post", "delete", "patch")
# Every check schemathesis has, by name (its own and the ones tests/api/contract.py registers),
# so a check a new release brings is run without a change here.
ALL_CHECKS = CHECKS.get_all()
# Checks turned off, by name, each with the reason. None: keep it that way.
TURNED_OFF: dict[str, str] = {}
RUN_CHECKS = [check for check in ALL_CHECKS if check.__name__ not in TURNED_OFF]
assert {"problem_details_on_errors", "positive_data_acceptance"} <= {
    check.__name__ for check in RUN_CHECKS
} and contract.positive_data_acceptance.stock not in RUN_CHECKS  # type: ignore[attr-defined]
# The coverage requests only the coverage phase sends, run in full even in the bounded pass
# (each is one cheap request); of the others (boundaries, one constraint broken at a time),
# the bounded pass sends a sample per operation.
ONLY_IN_COVERAGE = frozenset(
    {
        CoverageScenario.UNSPECIFIED_HTTP_METHOD,
        CoverageScenario.MISSING_PARAMETER,
        CoverageScenario.MALFORMED_CONTENT_TYPE,
        CoverageScenario.UNSUPPORTED_CONTENT_TYPE,
    }
)
COVERAGE_SAMPLE = None if LONG_RUN else 4


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
    world: World
    settings: Settings

    def fresh(self, role: str) -> User | None:
        """A caller of ``role`` of its own (None: anonymous), for a run that may erase it."""
        if role == "anonymous":
            return None
        if role in ("citizen", "business"):
            return self.world.sign_up(role=role)
        if role == "verifier":
            return self.world.verifier(f"Desk {uuid.uuid4().hex[:6]}")[1]
        if role in (Role.auditor.value, Role.operator.value):
            return self.world.staff(Role(role))
        return _data_provider(self.world, self.settings)


def _data_provider(world: World, settings: Settings) -> User:
    """A data provider's account (made directly: nobody signs up as one)."""
    email = f"provider-{uuid.uuid4().hex[:8]}@merchant.example"
    with world.db() as session:
        auth_service.create_account(
            session, settings, email=email, password=PASSWORD, role=Role.data_provider
        )
    return world.sign_in(email)


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
        users["data_provider"] = _data_provider(world, settings)
        # The auditor's routes read the index: bring it up to the chain first.
        Indexer.from_settings(settings, client.app.state.crda.sessions).run()
        real = {
            "verifier_id": org["id"],
            "did": org["did"],
            "credential_id": credential.json()["id"],
        }
        yield Cast(client, users, real, world, settings)
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


def _coverage_cases(operation: Any) -> list[Any]:
    """The coverage phase's requests for ``operation`` (all in the long run, else a sample)."""
    cases = list(
        CoverageGenerator(
            operation=operation,
            generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
            generation_config=operation.schema.config.generation_for(
                operation=operation, phase="coverage"
            ),
            auth_storage=None,
            override=Override(),
            feedback=FeedbackSources(),
        )
    )
    if COVERAGE_SAMPLE is None:
        return cases
    always = [c for c in cases if _scenario(c) in ONLY_IN_COVERAGE]
    others = [c for c in cases if _scenario(c) not in ONLY_IN_COVERAGE]
    step = max(1, len(others) // COVERAGE_SAMPLE)
    return always + others[::step][:COVERAGE_SAMPLE]


def _scenario(case: Any) -> Any:
    return getattr(case.meta.phase.data, "scenario", None)


def _negates_auth(case: Any) -> bool:
    """Whether the case left out or broke the Authorization header on purpose: it is sent
    without a caller's token (adding one back would make it a valid request)."""
    data = case.meta.phase.data if case.meta is not None else None
    names = [getattr(data, "parameter", None)]
    names += [m.parameter for m in getattr(data, "mutations", ()) or ()]
    return any(str(name).lower() == "authorization" for name in names)


def _count(method: str, path: str, who: str, status: int) -> None:
    counts = STATS.setdefault(f"{method} {path}", Counter())
    counts["requests"] += 1
    counts[str(status)] += 1
    counts[f"as {who}"] += 1


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
        send(who, case)

    def send(who: str, case: Any) -> None:
        if _negates_auth(case):
            who = "anonymous"
        user = cast.users.get(who)
        headers = user.headers if user else {}
        response = case.call(headers=headers)
        _count(method, path, who, response.status_code)
        case.validate_response(response, checks=RUN_CHECKS, headers=headers)
        if secured and user is None and response.request.method == method:
            # 401, or 400/422 when the request is malformed before the token is looked at.
            assert response.status_code in (400, 401, 422), (
                f"{method} {path} answered {response.status_code} without a token"
            )

    for i, case in enumerate(_coverage_cases(operation)):
        send(roles[i % len(roles)], case)
    run()


# Stateful scenarios: as a citizen in the bounded run, as every role in the long run.
STATEFUL_ROLES = ROLES if LONG_RUN else ("citizen",)


@pytest.mark.parametrize("role", STATEFUL_ROLES)
def test_links_keep_their_contract(schema: Any, cast: Cast, role: str) -> None:
    """Scenarios along the inferred links (what was created is there; what was deleted is
    gone), as a fresh caller: a scenario may erase its caller's personal data."""
    user = cast.fresh(role)
    headers = user.headers if user else {}

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, *_: Any, **__: Any) -> None:
            _count(case.method, case.path, role, response.status_code)
            case.validate_response(
                response, checks=RUN_CHECKS, headers=headers, recorder=self.recorder
            )

    Workflow.run(
        settings=settings(
            max_examples=EXAMPLES if LONG_RUN else 8,
            stateful_step_count=6,
            deadline=None,
            derandomize=not LONG_RUN,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
