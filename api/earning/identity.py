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
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.contract import Contract
from web3.types import RPCEndpoint

from api.chain.gateway import ChainGateway, _guard
from api.earning.fraud import CitizenRevoked, CitizenUnverified
from api.errors import ChainUnavailable

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
        self._contract: Contract | None = None

    def attestation(self, address: str) -> Attestation:
        now = time.monotonic()
        if self.cache_seconds > 0:
            with self._lock:
                hit = self._cache.get(address)
            if hit is not None and now - hit[0] < self.cache_seconds:
                return hit[1]
        registry = self._registry()
        ((verifier, level, expires_at, revoked, credential),) = self._call(
            registry, "attestationOf", address, ["(address,uint8,uint64,bool,bytes32)"]
        )
        (live,) = self._call(registry, "isVerified", address, ["bool"])
        found = Attestation(
            to_checksum_address(verifier),
            int(level),
            int(expires_at),
            bool(revoked),
            credential,
            bool(live),
        )
        if self.cache_seconds > 0:
            with self._lock:
                self._cache[address] = (now, found)
        return found

    def _registry(self) -> Contract:
        if self._contract is None:
            self._contract = self.gateway.contract("IdentityRegistry")
        return self._contract

    def _call(self, registry: Contract, fn: str, address: str, types: list[str]) -> tuple[Any, ...]:
        """A bare ``eth_call`` (this is on every submission's path: web3's per-call middleware,
        which asks the node for its chain id each time, costs more than the call itself)."""
        data = registry.encode_abi(fn, [address])
        params = [{"to": registry.address, "data": data}, "latest"]
        response = _guard(
            lambda: self.gateway.w3.provider.make_request(RPCEndpoint("eth_call"), params)
        )
        if "error" in response or not isinstance(response.get("result"), str):
            raise ChainUnavailable(f"the identity registry did not answer: {response.get('error')}")
        return tuple(abi_decode(types, bytes(HexBytes(response["result"]))))

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
