"""Indexer fixtures: fresh migrated databases on demand, the indexer, and chain activity."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import keccak
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.audit.indexer import ChainReader, Indexer
from api.audit.indexer import dump_index as indexer_dump
from api.chain.artifacts import Artifacts
from api.chain.deployments import Deployment
from api.chain.gateway import ChainGateway, NonceManager
from api.db import make_engine, make_session_factory
from api.settings import Settings
from tests.conftest import Accounts
from tests.contracts.conftest import Platform

DatabaseFactory = Callable[[], sessionmaker[Session]]


@pytest.fixture
def new_database(fresh_database: Callable[[], str]) -> Iterator[DatabaseFactory]:
    """Make empty, migrated databases (SQLite files, or PostgreSQL databases of their own)."""
    engines: list[Engine] = []

    def make() -> sessionmaker[Session]:
        engine = make_engine(fresh_database())
        engines.append(engine)
        return make_session_factory(engine)

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture(scope="session")
def artifacts(compiled: dict) -> Artifacts:
    return Artifacts.from_compiled(compiled)


IndexerFactory = Callable[..., Indexer]


@pytest.fixture
def make_indexer(
    settings: Settings, deployment: Deployment, artifacts: Artifacts, chain: ChainGateway
) -> IndexerFactory:
    """An indexer of the test devnet into ``sessions`` (a fresh instance each call: a restart)."""

    def make(sessions: sessionmaker[Session], **options: Any) -> Indexer:
        return Indexer(sessions, ChainReader(settings.rpc_url), deployment, artifacts, **options)

    return make


@pytest.fixture
def platform(chain: ChainGateway, accounts: Accounts) -> Platform:
    return Platform(
        chain=chain,
        accounts=accounts,
        registry=chain.contract("IdentityRegistry"),
        token=chain.contract("CRDAToken"),
        issuance=chain.contract("Issuance"),
    )


def rpc(chain: ChainGateway, method: str, *params: Any) -> Any:
    response = chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in response, response
    return response["result"]


def snapshot(chain: ChainGateway) -> str:
    return str(rpc(chain, "evm_snapshot"))


def revert(chain: ChainGateway, snapshot_id: str) -> None:
    assert rpc(chain, "evm_revert", snapshot_id) is True
    chain.nonces = NonceManager(chain.w3)


def dump_index(sessions: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every index table (the checkpoint without its bookkeeping), sorted."""
    with sessions() as session:
        return indexer_dump(session)


class Activity:
    """Chain activity of every kind the indexer reads, each call a mined block."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.n = 0

    def _next(self) -> int:
        self.n += 1
        return self.n

    def issue(self, *recipients: str, amount: int = 1_000) -> bytes:
        n = self._next()
        credits = {r: amount + n for r in recipients}
        batch_id, _tree, _records = self.p.issue(
            credits, batch=keccak(text=f"batch-{n}-{id(self)}")
        )
        return batch_id

    def transfer(self, sender: Any, recipient: str, amount: int) -> None:
        self.p.send(self.p.token.functions.transfer(recipient, amount), sender)

    def retire(self, holder: Any, amount: int, reason: str = "footprint 2026") -> None:
        beneficiary = keccak(text=f"beneficiary-{self._next()}")
        self.p.send(self.p.token.functions.retire(amount, beneficiary, reason), holder)

    def revoke(self, account: str) -> None:
        self.p.send(self.p.registry.functions.revoke(account), self.p.accounts.operator)

    def mixed(self, count: int, salt: int = 0) -> None:
        """``count`` blocks of varied activity between alice, bob and carol."""
        a = self.p.accounts
        for i in range(count):
            kind = (i + salt) % 4
            if kind == 0:
                self.issue(a.alice.address, a.bob.address, amount=500 + salt)
            elif kind == 1:
                self.transfer(a.alice, a.bob.address, 7 + i + salt)
            elif kind == 2:
                self.retire(a.bob, 3 + i + salt)
            else:
                self.p.attest(a.carol.address, level=1 + (i + salt) % 3)


@pytest.fixture
def activity(platform: Platform) -> Activity:
    """Alice, bob and carol attested and holding credits."""
    a = platform.accounts
    for account in (a.alice, a.bob, a.carol):
        platform.attest(account.address)
    act = Activity(platform)
    act.issue(a.alice.address, a.bob.address, a.carol.address, amount=10_000)
    return act


# -- the API over an index of its own -----------------------------------------------------------


@dataclass
class AuditWorld:
    """The app on a fresh database, its identity helpers, and the indexer and outbox worker."""

    world: Any
    sessions: sessionmaker[Session]
    settings: Settings
    platform: Platform
    indexer: Indexer

    @property
    def client(self) -> Any:
        return self.world.client

    def index(self) -> None:
        self.indexer.run()

    def worker(self) -> Any:
        from api.tasks import make_worker

        return make_worker(self.settings, self.sessions, self.platform.chain)

    def holder(self, role: str = "citizen", credits: int = 0) -> tuple[Any, str]:
        """A signed-in holder with a platform wallet (and ``credits`` issued to it)."""
        user = self.world.sign_up(role)
        response = self.client.post(
            f"/accounts/{user.id}/wallet", json={"custody": "platform"}, headers=user.headers
        )
        assert response.status_code in (200, 201), response.text
        address = response.json()["address"]
        if credits:
            self.issue(address, credits)
        return user, address

    def issue(self, address: str, credits: int, batch: bytes | None = None) -> None:
        """Mint ``credits`` to ``address`` in a batch and, as earning's issuance does on
        confirmation, record them in the trading ledger (which mirrors the chain)."""
        from api.market.ledger import record_credits_issued

        batch = batch or keccak(text=f"batch-{uuid.uuid4()}")
        self.platform.issue({address: credits}, batch=batch)
        with self.sessions() as session:
            record_credits_issued(session, address, credits, f"issuance:{batch.hex()}")
            session.commit()

    def auditor(self) -> Any:
        from api.auth.models import Role

        return self.world.staff(Role.auditor)


@pytest.fixture
def audit_world(
    settings: Settings,
    deployment: Deployment,
    chain: ChainGateway,
    accounts: Accounts,
    new_database: DatabaseFactory,
    make_indexer: IndexerFactory,
    platform: Platform,
) -> Iterator[AuditWorld]:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.world import World

    sessions = new_database()
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)
    app_settings = settings.model_copy(update={"database_url": url})
    with TestClient(create_app(app_settings)) as client:
        yield AuditWorld(
            World(client, app_settings, chain, accounts),
            sessions,
            app_settings,
            platform,
            make_indexer(sessions),
        )


__all__ = ["Activity", "AuditWorld", "dump_index", "revert", "rpc", "snapshot"]
