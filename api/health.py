"""Liveness and readiness: ``/healthz`` says the process runs, ``/readyz`` that it can work."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api import examples as ex
from api.chain.deployments import DeploymentMissing, deployment_problems, load_deployment
from api.chain.gateway import make_web3
from api.deps import StateDep
from api.errors import problem
from api.migrate import current_revision, head_revision
from api.state import AppState

router = APIRouter(tags=["health"])

NotReady = problem(
    503,
    "not-ready",
    "The service is not ready",
    when="`/readyz` only: a dependency is down; `checks` says which.",
    show="Nothing to the user (monitoring only).",
)


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ready",
                    "checks": {"database": "ok", "chain": "ok", "deployment": "ok"},
                    "chain_id": ex.CHAIN_ID,
                }
            ]
        }
    )

    status: Literal["ready"] = "ready"
    checks: dict[str, str]
    chain_id: int


@router.get("/healthz")
def healthz() -> Health:
    """The process is alive (no dependency is consulted)."""
    return Health()


@router.get(
    "/readyz",
    responses={
        503: {"description": "A dependency is down", "content": {"application/problem+json": {}}}
    },
)
def readyz(state: StateDep) -> Readiness:
    """Database migrated, chain reachable, and the deployment present on that chain."""
    ok, checks, chain_id = readiness(state)
    if not ok:
        state.forget_chain()
        raise NotReady(
            "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok"), checks=checks
        )
    return Readiness(checks=checks, chain_id=chain_id)


def readiness(state: AppState) -> tuple[bool, dict[str, str], int]:
    """(ready, each check's verdict, the node's chain id): ``/readyz`` and the metrics."""
    checks: dict[str, str] = {}
    ok = True
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        revision, head = current_revision(state.engine), head_revision()
        checks["database"] = "ok" if revision == head else f"at {revision}, head is {head}"
        ok &= revision == head
    except SQLAlchemyError as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
        ok = False

    chain_id = 0
    w3 = make_web3(state.settings.rpc_url, timeout=3)
    try:
        chain_id = w3.eth.chain_id
        checks["chain"] = "ok"
        problems = deployment_problems(
            w3, load_deployment(state.settings.deployments_dir, chain_id)
        )
        checks["deployment"] = "ok" if not problems else "; ".join(problems)
        ok &= not problems
    except DeploymentMissing as exc:
        checks["deployment"] = str(exc)
        ok = False
    except Exception as exc:  # noqa: BLE001  (any node failure means not ready)
        checks.setdefault("chain", f"unreachable: {type(exc).__name__}")
        checks.setdefault("deployment", "unknown")
        ok = False
    return ok, checks, chain_id
