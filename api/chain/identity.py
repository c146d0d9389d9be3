"""The one reader of "is this address verified?": the identity registry's attestations.

The registry keeps one attestation per address (verifier, assurance level, expiry, revoked,
credential hash) and answers ``isVerified`` (attested, not revoked, not expired, and the
attesting verifier still holds its role). Both are read in one JSON-RPC batch.

Answers may be cached per address for ``cache_seconds`` (0: always ask the chain). Earning
caches them for a few seconds on the submission path (a revocation then takes effect within
that time); verification of credentials and the market's checks ask every time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import cached_property

from eth_utils import to_checksum_address
from web3.contract import Contract

from api.chain.addresses import ZERO_ADDRESS
from api.chain.deploy import VERIFIER_ROLE
from api.chain.gateway import ChainGateway


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

    def __init__(self, gateway: ChainGateway, cache_seconds: float = 0.0) -> None:
        self.gateway = gateway
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Attestation]] = {}
        self._lock = threading.Lock()

    @cached_property
    def registry(self) -> Contract:
        return self.gateway.contract("IdentityRegistry")

    def attestation(self, address: str) -> Attestation:
        """The address's attestation and whether it verifies now (cached if configured)."""
        address = to_checksum_address(address)
        now = time.monotonic()
        if self.cache_seconds > 0:
            with self._lock:
                hit = self._cache.get(address)
            if hit is not None and now - hit[0] < self.cache_seconds:
                return hit[1]
        functions = self.registry.functions
        (verifier, level, expires_at, revoked, credential, since), live = self.gateway.views(
            [functions.attestationOf(address), functions.isVerified(address)]
        )
        found = Attestation(
            to_checksum_address(verifier),
            int(level),
            int(expires_at),
            bool(revoked),
            bytes(credential),
            bool(live),
            int(since),
        )
        if self.cache_seconds > 0:
            with self._lock:
                self._cache[address] = (now, found)
        return found

    def is_verified(self, address: str) -> bool:
        """The registry's answer (a revoked or expired identity is not verified)."""
        return self.attestation(address).live

    def is_verifier(self, address: str) -> bool:
        """Whether ``address`` holds the registry's verifier role now."""
        role = self.registry.functions.hasRole(VERIFIER_ROLE, to_checksum_address(address))
        return bool(self.gateway.view(role))
