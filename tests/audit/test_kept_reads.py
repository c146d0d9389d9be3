"""The auditor's headline and supply are kept per process while the index's checkpoint is the
same row (api/audit/kept.py), and stay exact: two apps on one database stand for two API
processes, the indexer for ``crda index``; whatever it writes (new blocks, a reorganisation
rolled back) the next read of either app shows. The signed-in part of these reads still reads
the account on every request: a role change or an erasure made elsewhere counts at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from api.audit import dashboard, queries
from api.auth import service
from api.auth.models import Account, Role
from api.chain.gateway import ChainGateway
from tests.audit.conftest import Activity, AuditWorld, revert, snapshot
from tests.world import assert_problem

pytestmark = [pytest.mark.chain, pytest.mark.database]


@pytest.fixture
def other(audit_world: AuditWorld) -> Iterator[TestClient]:
    """A second app on the same database: another API process with its own kept answers."""
    with TestClient(create_app(audit_world.settings)) as client:
        yield client


def _fresh(aw: AuditWorld) -> tuple[dict[str, Any], dict[str, Any]]:
    """The summary and supply computed now, with nothing kept."""
    with aw.sessions() as session:
        summary = dashboard.summary(session).model_dump(mode="json")
        supply = queries.supply_at(session).model_dump(mode="json")
    return summary, supply


def _read(client: TestClient, headers: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    summary = client.get("/audit/summary", headers=headers)
    supply = client.get("/audit/supply", headers=headers)
    assert summary.status_code == 200, summary.text
    assert supply.status_code == 200, supply.text
    return summary.json(), supply.json()


def test_kept_aggregates_follow_the_index_written_elsewhere(
    audit_world: AuditWorld, other: TestClient, activity: Activity, chain: ChainGateway
) -> None:
    aw = audit_world
    a = aw.platform.accounts
    headers = aw.auditor().headers
    aw.index()
    first = _read(aw.client, headers)
    assert first == _fresh(aw)
    assert _read(aw.client, headers) == first  # kept
    assert _read(other, headers) == first
    fork = snapshot(chain)

    # The indexer (another writer) reads a new batch, a retirement and a transfer.
    activity.issue(a.alice.address, amount=7_000)
    activity.retire(a.bob, 300)
    activity.transfer(a.carol, a.alice.address, 50)
    aw.index()
    second = _read(aw.client, headers)
    assert second == _fresh(aw) == _read(other, headers)
    assert second[0]["batches"] == first[0]["batches"] + 1
    assert second[0]["retirements"] == first[0]["retirements"] + 1
    assert int(second[1]["issued"]) > int(first[1]["issued"])
    assert int(second[1]["retired"]) == int(first[1]["retired"]) + 300

    # The chain reorganises under the index: the indexer rolls back to the common ancestor.
    revert(chain, fork)
    activity.issue(a.bob.address, amount=100)
    aw.index()
    third = _read(aw.client, headers)
    assert third == _fresh(aw) == _read(other, headers)
    assert third[0]["index"]["reorgs"] == first[0]["index"]["reorgs"] + 1
    assert third[0]["batches"] == first[0]["batches"] + 1  # the branch's one batch, not two


def test_a_kept_read_still_checks_the_account_every_time(
    audit_world: AuditWorld, other: TestClient
) -> None:
    aw = audit_world
    aw.index()
    auditor, operator = aw.auditor(), aw.world.staff(Role.operator)
    for user in (auditor, operator):
        for client in (aw.client, other):
            assert client.get("/audit/summary", headers=user.headers).status_code == 200
    # Another process takes the auditor's role away: the same token is refused at once.
    with aw.sessions() as session, session.begin():
        session.execute(update(Account).where(Account.id == auditor.id).values(role="citizen"))
    for path in ("/audit/summary", "/audit/supply"):
        assert_problem(aw.client.get(path, headers=auditor.headers), 403, "forbidden")
    # And erases the operator: 401, the token names no account any more.
    with aw.sessions() as session:
        account = session.get(Account, operator.id)
        assert account is not None
        service.erase_personal_data(session, account)
    problem = assert_problem(
        other.get("/audit/summary", headers=operator.headers), 401, "invalid-token"
    )
    assert problem["reason"] == "unknown-account"


def test_a_read_before_the_index_started_is_a_problem(audit_world: AuditWorld) -> None:
    """Nothing is kept before the first checkpoint: the problem, then the answer."""
    aw = audit_world
    headers = aw.auditor().headers
    assert_problem(aw.client.get("/audit/summary", headers=headers), 503, "index-not-started")
    aw.index()
    assert aw.client.get("/audit/summary", headers=headers).status_code == 200
