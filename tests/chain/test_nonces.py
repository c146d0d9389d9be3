"""Nonces from the database: several processes signing with one key never share a nonce, a
transaction the node refused spends none, and one sent outside the platform is never reused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web3.exceptions import Web3RPCError
from web3.types import TxReceipt

from api.chain.gateway import ChainGateway, NonceManager
from api.chain.models import SignerNonce
from api.db import make_engine, make_session_factory
from api.settings import PROJECT_ROOT, Settings
from tests.conftest import devnet_account

pytestmark = pytest.mark.chain

# A devnet key no other test signs with.
SIGNER_INDEX = 12
TO = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture
def signer() -> LocalAccount:
    return devnet_account(SIGNER_INDEX)


@pytest.fixture
def platform(
    settings: Settings, migrated: str, chain: ChainGateway
) -> Iterator[list[ChainGateway]]:
    """Two gateways as two API processes have them: an engine and nonce state each."""
    engines = [make_engine(migrated) for _ in range(2)]
    yield [
        ChainGateway.connect(settings, sessions=make_session_factory(engine)) for engine in engines
    ]
    for engine in engines:
        engine.dispose()


def nonce_of(chain: ChainGateway, receipt: TxReceipt) -> int:
    return int(chain.w3.eth.get_transaction(receipt["transactionHash"])["nonce"])


def stored_next(sessions: sessionmaker[Session], chain: ChainGateway, address: str) -> int | None:
    with sessions() as session:
        return session.scalar(
            select(SignerNonce.next_nonce).where(
                SignerNonce.chain_id == chain.chain_id, SignerNonce.address == address
            )
        )


def test_two_processes_sending_at_once_from_one_key_use_each_nonce_once(
    chain: ChainGateway, platform: list[ChainGateway], signer: LocalAccount
) -> None:
    start = chain.transaction_count(signer.address, "pending")

    def send(i: int) -> int:
        gateway = platform[i % 2]
        return nonce_of(chain, gateway.send_value(signer, TO, 1))

    with ThreadPoolExecutor(8) as pool:
        nonces = list(pool.map(send, range(40)))  # every one mined (send_value waits for it)
    assert sorted(nonces) == list(range(start, start + 40))
    assert chain.transaction_count(signer.address, "latest") == start + 40


def test_a_second_os_process_and_this_one_share_the_key_without_a_collision(
    settings: Settings, chain: ChainGateway, platform: list[ChainGateway], signer: LocalAccount
) -> None:
    start = chain.transaction_count(signer.address, "pending")
    env = {
        **os.environ,
        "CRDA_ENVIRONMENT": "test",
        "CRDA_DATABASE_URL": settings.database_url,
        "CRDA_RPC_URL": settings.rpc_url,
        "CRDA_DEPLOYMENTS_DIR": str(settings.deployments_dir),
        "CRDA_ARTIFACTS_PATH": str(settings.artifacts_path),
        "CRDA_RECEIPT_POLL_INTERVAL": "0.01",
    }
    other = subprocess.Popen(
        [sys.executable, "-m", "tests.chain.nonce_sender", str(SIGNER_INDEX), "30", TO],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdin is not None and other.stdout is not None
        assert other.stdout.readline().strip() == "ready"
        other.stdin.write("go\n")
        other.stdin.flush()
        with ThreadPoolExecutor(4) as pool:
            here = list(
                pool.map(
                    lambda i: nonce_of(chain, platform[i % 2].send_value(signer, TO, 1)),
                    range(30),
                )
            )
        out, _ = other.communicate(timeout=120)
    finally:
        if other.poll() is None:
            other.kill()
    assert other.returncode == 0
    there = json.loads(out.strip().splitlines()[-1])
    assert len(there) == 30
    assert sorted(here + there) == list(range(start, start + 60))


def test_a_refused_transaction_spends_no_nonce(
    chain: ChainGateway, platform: list[ChainGateway], signer: LocalAccount, migrated: str
) -> None:
    first = platform[0].send_value(signer, TO, 1)
    before = nonce_of(chain, first)
    too_much = chain.w3.eth.get_balance(signer.address) * 2
    with pytest.raises((Web3RPCError, ValueError)):
        platform[1].send_value(signer, TO, too_much)
    sessions = make_session_factory(make_engine(migrated))
    assert stored_next(sessions, chain, signer.address) == before + 1
    after = platform[1].send_value(signer, TO, 1)
    assert nonce_of(chain, after) == before + 1


def test_a_transaction_sent_outside_the_platform_is_not_reused(
    chain: ChainGateway, platform: list[ChainGateway], signer: LocalAccount
) -> None:
    platform[0].send_value(signer, TO, 1)
    # The same key signs elsewhere (a script with its own counter): the database lags.
    outside = NonceManager(chain.w3)
    chain.nonces = outside
    for _ in range(3):
        chain.send_value(signer, TO, 1)
    count = chain.transaction_count(signer.address, "pending")
    receipt = platform[1].send_value(signer, TO, 1)
    assert nonce_of(chain, receipt) == count
