"""Is the citizen verified at the activity's time? Asked of the chain's IdentityRegistry.

The registry keeps one attestation per address (verifier, level, expiry, revoked, credential
hash) and no start time, so "verified at the activity's time" is read as: an attestation
exists, is not revoked, did not expire before the activity ended, and its verifier is still
accredited (``isVerified``, unless the attestation has merely expired since the activity).

Answers are cached per address for ``attestation_cache_seconds`` (0 turns the cache off): a
revocation takes effect on new submissions within that time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from api.chain.gateway import ChainGateway
from api.earning.fraud import CitizenRevoked, CitizenUnverified

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class Attestation:
    verifier: str
    level: int
    expires_at: int
    revoked: bool
    credential_hash: bytes
    live: bool  # isVerified now


class IdentityChecker:
    def __init__(self, gateway: ChainGateway, cache_seconds: float = 5.0) -> None:
        self.gateway = gateway
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Attestation]] = {}
        self._lock = threading.Lock()

    def attestation(self, address: str) -> Attestation:
        now = time.monotonic()
        if self.cache_seconds > 0:
            with self._lock:
                hit = self._cache.get(address)
            if hit is not None and now - hit[0] < self.cache_seconds:
                return hit[1]
        registry = self.gateway.contract("IdentityRegistry")
        verifier, level, expires_at, revoked, credential = self.gateway.call(
            registry.functions.attestationOf(address)
        )
        live = bool(self.gateway.call(registry.functions.isVerified(address)))
        found = Attestation(
            str(verifier), int(level), int(expires_at), bool(revoked), credential, live
        )
        if self.cache_seconds > 0:
            with self._lock:
                self._cache[address] = (now, found)
        return found

    def require_verified_at(self, address: str, activity_end: datetime, now: datetime) -> None:
        """Raise the problem that says why ``address`` may not earn for this activity."""
        a = self.attestation(address)
        if a.verifier == ZERO_ADDRESS:
            raise CitizenUnverified(f"{address} has no attestation")
        if a.revoked:
            raise CitizenRevoked(f"the attestation of {address} was revoked")
        if a.expires_at <= int(activity_end.timestamp()):
            raise CitizenUnverified(f"the attestation of {address} expired before the activity")
        if not a.live and a.expires_at > int(now.timestamp()):
            raise CitizenUnverified(f"the verifier of {address} is no longer accredited")
