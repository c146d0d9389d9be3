"""Contract handles and small actions shared by the contract tests (all on the real devnet)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract

from api.chain.deploy import ISSUER_ROLE, VERIFIER_ROLE
from api.chain.errors import ChainRevert
from api.chain.gateway import ChainGateway
from api.chain.merkle import MerkleTree, claim_leaf
from tests.conftest import Accounts, block_time

# Verified before any activity a test dates within the 30-day claim window.
VERIFIED_AGO = 40 * 86400
ONE_YEAR = 365 * 24 * 3600


@contextmanager
def reverts(error_name: str) -> Iterator[list[ChainRevert]]:
    """Expect the chain to refuse with the custom error ``error_name``."""
    caught: list[ChainRevert] = []
    with pytest.raises(ChainRevert) as info:
        yield caught
    assert info.value.error_name == error_name, info.value.detail
    caught.append(info.value)


@dataclass
class Platform:
    """The deployed contracts and the actions tests repeat."""

    chain: ChainGateway
    accounts: Accounts
    registry: Contract
    token: Contract
    issuance: Contract

    def send(self, fn, signer: LocalAccount):
        return self.chain.transact(fn, signer)

    def add_verifier(self, verifier: LocalAccount) -> None:
        self.send(
            self.registry.functions.grantRole(VERIFIER_ROLE, verifier.address),
            self.accounts.operator,
        )

    def attest(
        self,
        account: str,
        *,
        verifier: LocalAccount | None = None,
        level: int = 2,
        ttl: int = ONE_YEAR,
        verified_ago: int = VERIFIED_AGO,
    ) -> None:
        """Attest ``account`` as checked ``verified_ago`` seconds before the chain's now (by
        default before any activity a test dates in the claim window)."""
        verifier = verifier or self.accounts.verifier
        if not self.registry.functions.hasRole(VERIFIER_ROLE, verifier.address).call():
            self.add_verifier(verifier)
        now = block_time(self.chain)
        expires, since = now + ttl, now - verified_ago
        credential = keccak(text=f"credential:{account}:{expires}")
        attest = self.registry.functions.attestSince(account, credential, level, expires, since)
        self.send(attest, verifier)

    def is_verified(self, account: str) -> bool:
        return bool(self.registry.functions.isVerified(account).call())

    def balance(self, account: str) -> int:
        return int(self.token.functions.balanceOf(account).call())

    def issue(
        self, credits: dict[str, int], *, batch: bytes | None = None
    ) -> tuple[bytes, MerkleTree, list[tuple]]:
        """Issue one claim per (recipient, amount); returns batch id, tree and claim records."""
        records = []
        for n, (recipient, amount) in enumerate(credits.items()):
            claim_id = keccak(text=f"claim:{recipient}:{amount}:{n}:{batch!r}")
            records.append(
                (claim_id, recipient, amount, keccak(text="methodology-v1"), keccak(claim_id))
            )
        tree = MerkleTree([claim_leaf(*r) for r in records])
        batch_id = batch or keccak(b"".join(r[0] for r in records))
        self.send(
            self.issuance.functions.issueBatch(
                batch_id,
                tree.root,
                [r[0] for r in records],
                list(credits.keys()),
                list(credits.values()),
            ),
            self.accounts.issuer,
        )
        return batch_id, tree, records


@pytest.fixture
def platform(chain: ChainGateway, accounts: Accounts) -> Platform:
    return Platform(
        chain=chain,
        accounts=accounts,
        registry=chain.contract("IdentityRegistry"),
        token=chain.contract("CRDAToken"),
        issuance=chain.contract("Issuance"),
    )


__all__ = ["ISSUER_ROLE", "ONE_YEAR", "Platform", "reverts"]
