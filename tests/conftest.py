"""Shared fixtures: a real throwaway devnet, the deployed contracts and a real database.

- The devnet is Hardhat by default; ``CRDA_TEST_DEVNET=anvil`` runs everything on anvil.
- The database is a fresh SQLite file by default; ``CRDA_TEST_DATABASE_URL`` points at a
  PostgreSQL server, where a database of its own is created for the run and dropped after.
- Every test that touches the chain runs between an EVM snapshot and its revert (devnet-only
  RPC methods are fine in tests), so tests stay independent and fast.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from api.chain import compiler
from api.chain.artifacts import Artifacts
from api.chain.deploy import ensure_deployed
from api.chain.deployments import Deployment
from api.chain.devnet import Devnet, start_devnet
from api.chain.gateway import ChainGateway, NonceManager, make_web3
from api.migrate import upgrade
from api.settings import PROJECT_ROOT, Environment, Settings

Account.enable_unaudited_hdwallet_features()
DEVNET_MNEMONIC = "test test test test test test test test test test test junk"


# The fixtures that give a test a real database (the shared one, or one of the test's own).
DATABASE_FIXTURES = {"migrated", "database", "new_database", "fresh_database"}
ON_POSTGRES = bool(os.environ.get("CRDA_TEST_DATABASE_URL"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that touches the database, so a PostgreSQL pass (CI's second,
    ``-m database``) can run just those; except two kinds, so that CI runs each test once
    where running it twice would check nothing more:

    - ``any_database``: it touches the database, but what it checks does not depend on which
      (a page drawn in a browser from queries tested on both): the first pass only;
    - ``postgres_pass``: slow, and PostgreSQL is the database that can fail it (the fuzzer:
      string lengths, NUL bytes and integer ranges SQLite stores and PostgreSQL refuses; the
      chaos run, which needs PostgreSQL): the PostgreSQL pass only, skipped in the first.
    """
    for item in items:
        if item.get_closest_marker("postgres_pass"):
            item.add_marker(pytest.mark.database)
            if not ON_POSTGRES:
                item.add_marker(
                    pytest.mark.skip(reason="runs in the PostgreSQL pass (CRDA_TEST_DATABASE_URL)")
                )
        elif item.get_closest_marker("any_database"):
            continue
        elif DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.database)


def full_on_postgres(cases: Sequence[Any], sqlite_too: Sequence[Any]) -> list[Any]:
    """A matrix whose cases do not differ from one another by database: every case in the
    PostgreSQL pass, the representative ``sqlite_too`` in the first pass as well."""
    return [
        case if case in sqlite_too else _param(case, pytest.mark.postgres_pass) for case in cases
    ]


def full_on_sqlite(cases: Sequence[Any], postgres_too: Sequence[Any]) -> list[Any]:
    """The other way round: every case in the first pass, ``postgres_too`` on PostgreSQL too."""
    return [
        case if case in postgres_too else _param(case, pytest.mark.any_database) for case in cases
    ]


def _param(case: Any, mark: pytest.MarkDecorator) -> Any:
    """A case (a tuple: one value per argument name) with ``mark``."""
    return (
        pytest.param(*case, marks=mark)
        if isinstance(case, tuple)
        else pytest.param(case, marks=mark)
    )


def devnet_account(index: int) -> LocalAccount:
    """The devnet's funded account ``index`` (Hardhat and anvil share the mnemonic)."""
    return Account.from_mnemonic(DEVNET_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


@dataclass(frozen=True)
class Accounts:
    operator: LocalAccount
    issuer: LocalAccount
    relayer: LocalAccount
    verifier: LocalAccount
    verifier2: LocalAccount
    alice: LocalAccount
    bob: LocalAccount
    carol: LocalAccount
    mallory: LocalAccount


@pytest.fixture(scope="session")
def accounts() -> Accounts:
    return Accounts(*(devnet_account(i) for i in range(9)))


@pytest.fixture(scope="session")
def compiled() -> dict:
    return compiler.compile_contracts(
        PROJECT_ROOT / "contracts", PROJECT_ROOT / "build" / "contracts.json"
    )


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    kind = os.environ.get("CRDA_TEST_DEVNET", "hardhat")
    node = start_devnet(kind, log_path=tmp_path_factory.mktemp("devnet") / "node.log")
    yield node
    node.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server_url = os.environ.get("CRDA_TEST_DATABASE_URL")
    if not server_url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'crda.db'}"
        return
    name = f"crda_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def settings(
    devnet: Devnet, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        environment=Environment.test,
        rpc_url=devnet.rpc_url,
        database_url=database_url,
        deployments_dir=tmp_path_factory.mktemp("deployments"),
        receipt_poll_interval=0.01,
        run_workers=False,
        # The in-process indexer is tested on databases of its own (tests/audit).
        indexer_enabled=False,
        # Tests send many requests from one address; tests/auth/test_throttling.py turns the
        # limits back on, with their defaults.
        rate_limits_enabled=False,
    )


@pytest.fixture(scope="session")
def deployment(settings: Settings, compiled: dict) -> Deployment:
    deployed, _new = ensure_deployed(
        settings,
        Artifacts.from_compiled(compiled),
        digest=compiled["digest"],
        compiler=compiled["compiler"],
    )
    return deployed


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once a run, which :func:`fresh_database` copies: a copy is a file
    copy (SQLite) or ``CREATE DATABASE ... TEMPLATE`` (PostgreSQL), a migration run is seconds
    (tests/unit/test_migrations.py runs the migrations themselves, up and down)."""
    server_url = os.environ.get("CRDA_TEST_DATABASE_URL")
    if not server_url:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.db'}"
        upgrade(url)
        yield url
        return
    name = f"crda_tmpl_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)  # alembic's engine pools nothing: no connection is left on the template
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def fresh_database(_template: str, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Make migrated databases of the test's own (each call another: SQLite files, or
    PostgreSQL databases dropped after the test): copies of one migrated template."""
    server_url = os.environ.get("CRDA_TEST_DATABASE_URL")
    made: list[str] = []
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT") if server_url else None

    def make() -> str:
        if admin is None:
            path = tmp_path / f"fresh-{len(made)}.db"
            with (
                sqlite3.connect(_template.split("///", 1)[1]) as source,
                sqlite3.connect(path) as target,
            ):
                source.backup(target)
            made.append(str(path))
            return f"sqlite:///{path}"
        name = f"crda_fresh_{uuid.uuid4().hex[:12]}"
        template = make_url(_template).database
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        made.append(name)
        return make_url(server_url).set(database=name).render_as_string(hide_password=False)

    yield make
    if admin is not None:
        with admin.connect() as connection:
            for name in made:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def session_gateway(settings: Settings, deployment: Deployment) -> ChainGateway:
    return ChainGateway.connect(settings)


@pytest.fixture(scope="session")
def _nonce_rows(database_url: str) -> Iterator[Engine]:
    """An engine on the shared database, to forget its signer nonces after a chain revert."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def chain(session_gateway: ChainGateway, _nonce_rows: Engine) -> Iterator[ChainGateway]:
    """The gateway, with the chain reverted to its state before the test afterwards."""
    w3 = session_gateway.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield session_gateway
    reverted = w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
    assert reverted.get("result") is True, reverted
    # The revert took the nonces back with it: re-seed them from the node, and forget the
    # ones the app's processes allocated in the shared database (a devnet-only rewind).
    session_gateway.nonces = NonceManager(w3)
    with _nonce_rows.begin() as connection:
        if inspect(connection).has_table("signer_nonces"):
            connection.execute(text("DELETE FROM signer_nonces"))


def increase_time(gateway: ChainGateway, seconds: int) -> None:
    """Move the devnet's clock forward and mine a block (tests only)."""
    gateway.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    gateway.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def mine_at(gateway: ChainGateway, timestamp: int) -> None:
    """Mine the next block at exactly ``timestamp`` (tests only)."""
    gateway.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]
    gateway.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def block_time(gateway: ChainGateway) -> int:
    return int(gateway.w3.eth.get_block("latest")["timestamp"])


@pytest.fixture
def fresh_devnet(tmp_path: Path) -> Iterator[Devnet]:
    """A second devnet of the test's own, for tests that stop or restart the node."""
    kind = os.environ.get("CRDA_TEST_DEVNET", "hardhat")
    node = start_devnet(kind, log_path=tmp_path / "node.log")
    yield node
    node.stop()


__all__ = ["block_time", "devnet_account", "increase_time", "make_web3", "mine_at"]
