"""Health and readiness, and the problem-details shape of every error."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete
from sqlalchemy.orm import Session

from api.app import create_app
from api.auth.models import Account, Role
from api.auth.service import create_account
from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import ensure_deployed
from api.chain.devnet import Devnet, start_devnet
from api.migrate import upgrade
from api.settings import DEMO_PASSWORD, Environment, Settings

PROBLEM = "application/problem+json"


def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


def test_readyz_reports_every_dependency_ready(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checks"] == {"database": "ok", "chain": "ok", "deployment": "ok"}
    assert body["chain_id"] == 31337


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "/problems/not-found"
    assert response.json()["instance"] == "/no/such/thing"


def test_wrong_method_is_a_405_problem(client: TestClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "/problems/method-not-allowed"
    assert response.headers["allow"] == "GET"


def test_a_405_allows_every_method_of_the_path(client: TestClient) -> None:
    """A path served by several routes (GET and POST written apart) names them all."""
    response = client.delete("/accounts/me/wallet")
    assert response.status_code == 405, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["allow"] == "GET, POST"
    assert "GET, POST" in response.json()["detail"]


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


def test_openapi_has_clean_operation_ids(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ids = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"health-healthz", "health-readyz"} <= ids


@pytest.fixture
def own_platform(fresh_devnet: Devnet, compiled: dict, tmp_path: Path) -> tuple[Settings, Devnet]:
    """A platform on a devnet of this test's own, which the test may stop and restart."""
    settings = Settings(
        environment=Environment.test,
        rpc_url=fresh_devnet.rpc_url,
        database_url=f"sqlite:///{tmp_path / 'own.db'}",
        deployments_dir=tmp_path / "deployments",
        receipt_poll_interval=0.01,
        run_workers=False,
    )
    ensure_deployed(
        settings,
        Artifacts.from_compiled(compiled),
        digest=compiled["digest"],
        compiler=compiled["compiler"],
    )
    upgrade(settings.database_url)
    return settings, fresh_devnet


def test_readyz_is_a_503_problem_when_the_devnet_is_down(
    own_platform: tuple[Settings, Devnet],
) -> None:
    settings, devnet = own_platform
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        devnet.stop()
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "/problems/not-ready"
    assert body["checks"]["chain"].startswith("unreachable")
    assert body["checks"]["database"] == "ok"


def test_readyz_is_a_503_problem_when_the_devnet_was_restarted(
    own_platform: tuple[Settings, Devnet],
) -> None:
    settings, devnet = own_platform
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        devnet.stop()
        restarted = start_devnet(devnet.kind, devnet.port)
        try:
            response = client.get("/readyz")
        finally:
            restarted.stop()
    assert response.status_code == 503
    assert "no code at" in response.json()["checks"]["deployment"]


def test_api_refuses_to_start_on_a_restarted_devnet(
    own_platform: tuple[Settings, Devnet],
) -> None:
    settings, devnet = own_platform
    devnet.stop()
    restarted = start_devnet(devnet.kind, devnet.port)
    try:
        with pytest.raises(RuntimeError, match="cannot start"), TestClient(create_app(settings)):
            pass
    finally:
        restarted.stop()


def test_readyz_is_a_503_problem_when_the_database_is_not_migrated(
    own_platform: tuple[Settings, Devnet], tmp_path: Path
) -> None:
    settings, _devnet = own_platform
    unmigrated = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"})
    with TestClient(create_app(unmigrated)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("at None")


def test_compiler_is_the_pinned_npm_solc(compiled: dict) -> None:
    assert compiled["compiler"] == compiler.compiler_version() == "0.8.30"
    assert compiled["evmVersion"] == "cancun"


def test_a_literal_path_is_not_a_parametrised_one(client: TestClient) -> None:
    """GET /certificates/verify is no certificate with the serial "verify": a 405 naming the
    methods of /certificates/verify, not a 422 about the serial."""
    response = client.get("/certificates/verify")
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    options = client.options("/credentials/issue")
    assert options.status_code == 405, options.text
    assert options.headers["allow"] == "POST"


def test_api_refuses_to_start_outside_local_development_while_staff_have_the_demo_password(
    migrated: str,
) -> None:
    public_host = {"api_host": "crda.incheon.example", "public_url": "https://crda.example"}
    secrets = {
        "operator_key": "0x" + "11" * 32,
        "issuer_key": "0x" + "22" * 32,
        "relayer_key": "0x" + "33" * 32,
        "admin_address": "0x" + "44" * 20,
        "session_keys": '{"k1": "pem"}',
        "uniqueness_pepper": "a real secret pepper",
        "master_key": "A" * 43,
    }
    settings = Settings(  # type: ignore[arg-type]
        database_url=migrated,
        check_chain_on_start=False,
        run_workers=False,
        indexer_enabled=False,
        **public_host,
        **secrets,
    )
    engine = create_engine(migrated)
    with Session(engine) as session:
        staff_id = create_account(
            session,
            settings,
            email="staff-demo-pw@city.example",
            password=DEMO_PASSWORD,
            role=Role.auditor,
        ).id
    try:
        with (
            pytest.raises(RuntimeError, match=r"staff-demo-pw@city\.example"),
            TestClient(create_app(settings)),
        ):
            pass
    finally:
        with Session(engine) as session:
            session.execute(delete(Account).where(Account.id == staff_id))
            session.commit()
        engine.dispose()
