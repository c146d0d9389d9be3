"""The one reader of "is this address verified?": the identity registry's attestations.

The registry keeps one attestation per address (verifier, assurance level, expiry, revoked,
credential hash) and answers ``isVerified`` (attested, not revoked, not expired, and the
attesting verifier still holds its role). Both are read in one JSON-RPC batch.

Answers may be cached per address for ``cache_seconds`` (0: always ask the chain). Earning
caches them for a few seconds on the submission path (a revocation then takes effect within
that time); verification of credentials asks every time.

Or, exactly, per head block (``per_block=True``, the market's orders and deposits): each ask
reads the chain's head (one small request, ``eth_getBlockByNumber("latest")``) and answers from
the cache only when the registry was read at that very block (same number and hash); else it
reads the registry at that block (EIP-1898 ``blockHash``) and keeps the answer until the head
moves. The answer is the registry's at the current head, as an uncached read would give it: a
revocation (or an expiry, or a verifier losing its role) is seen by the first ask after the
block holding it, and a reorganisation (a new hash at the same height) misses the cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3.contract import Contract

from api.chain.addresses import ZERO_ADDRESS
from api.chain.deploy import VERIFIER_ROLE
from api.chain.gateway import ChainGateway

# isVerified(address)'s selector, as call data's hex prefix.
_IS_VERIFIED = "0x" + keccak(text="isVerified(address)")[:4].hex()

# Reads per JSON-RPC batch in ``verified`` (nodes cap a batch's size; 1000 for geth).
VIEWS_PER_BATCH = 500


@dataclass(frozen=True)
class Attestation:
    verifier: str  # ZERO_ADDRESS: never attested
    level: int
    expires_at: int
    revoked: bool
    credential_hash: bytes
    live: bool  # isVerified now
    verified_since: int = 0  # when the verifier checked the person (unix seconds)

    @property
    def exists(self) -> bool:
        return self.verifier != ZERO_ADDRESS


class IdentityReader:
    """Attestations and verifier roles, read from the chain's IdentityRegistry."""

    def __init__(
        self, gateway: ChainGateway, cache_seconds: float = 0.0, *, per_block: bool = False
    ) -> None:
        self.gateway = gateway
        self.cache_seconds = cache_seconds
        self.per_block = per_block
        self._cache: dict[str, tuple[float, Attestation]] = {}
        self._lock = threading.Lock()
        # per_block: the head block the answers below were read at, and the answers.
        self._head: str = ""
        self._at_head: dict[str, Attestation] = {}

    @cached_property
    def registry(self) -> Contract:
        return self.gateway.contract("IdentityRegistry")

    def attestation(self, address: str) -> Attestation:
        """The address's attestation and whether it verifies now (cached if configured)."""
        address = to_checksum_address(address)
        if self.per_block:
            return self._attestation_at_head(address)
        now = time.monotonic()
        if self.cache_seconds > 0:
            with self._lock:
                hit = self._cache.get(address)
            if hit is not None and now - hit[0] < self.cache_seconds:
                return hit[1]
        found = self._read(address, "latest")
        if self.cache_seconds > 0:
            with self._lock:
                self._cache[address] = (now, found)
        return found

    def _attestation_at_head(self, address: str) -> Attestation:
        head = self.gateway.rpc("eth_getBlockByNumber", ["latest", False])
        block_hash = str(head["hash"]).lower()
        with self._lock:
            hit = self._at_head.get(address) if self._head == block_hash else None
        if hit is not None:
            return hit
        found = self._read(address, {"blockHash": block_hash})
        with self._lock:
            if self._head != block_hash:
                # Another head (newer, or reorganised): the answers read at the one before no
                # longer count. Only asks that read this very head are answered from the cache.
                self._head, self._at_head = block_hash, {}
            self._at_head[address] = found
        return found

    def _read(self, address: str, block: Any) -> Attestation:
        functions = self.registry.functions
        (verifier, level, expires_at, revoked, credential, since), live = self.gateway.views(
            [functions.attestationOf(address), functions.isVerified(address)], block
        )
        return Attestation(
            to_checksum_address(verifier),
            int(level),
            int(expires_at),
            bool(revoked),
            bytes(credential),
            bool(live),
            int(since),
        )

    def is_verified(self, address: str) -> bool:
        """The registry's answer (a revoked or expired identity is not verified)."""
        return self.attestation(address).live

    def verified(self, addresses: Iterable[str]) -> set[str]:
        """Which of ``addresses`` the registry verifies now: one JSON-RPC batch of
        ``isVerified`` reads for them all, never cached (the issuance batcher's question)."""
        asked = sorted({to_checksum_address(a) for a in addresses})
        # The call data by hand (selector + one address word): building web3's contract
        # function objects cost more than the reads, a hundred holders a batch.
        to = self.registry.address
        live: set[str] = set()
        for start in range(0, len(asked), VIEWS_PER_BATCH):
            part = asked[start : start + VIEWS_PER_BATCH]
            requests = [
                (
                    "eth_call",
                    [
                        {"to": to, "data": _IS_VERIFIED + abi_encode(["address"], [a]).hex()},
                        "latest",
                    ],
                )
                for a in part
            ]
            answers = self.gateway.rpc_batch(requests)
            live.update(
                a
                for a, raw in zip(part, answers, strict=True)
                if abi_decode(["bool"], bytes(HexBytes(raw)))[0]
            )
        return live

    def is_verifier(self, address: str) -> bool:
        """Whether ``address`` holds the registry's verifier role now."""
        role = self.registry.functions.hasRole(VERIFIER_ROLE, to_checksum_address(address))
        return bool(self.gateway.view(role))
