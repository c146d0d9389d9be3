"""What the market services need from the outside: settings, the chain's view of identities,
the exchange's EIP-712 domain and a clock. Tests and the benchmark build their own."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from api.chain.gateway import ChainGateway
from api.chain.identity import IdentityReader
from api.market.eip712 import Domain
from api.settings import Settings


@dataclass
class MarketContext:
    settings: Settings
    chain: ChainGateway
    clock: Callable[[], int] = field(default=lambda: int(time.time()))
    _domain: Domain | None = None
    _identity: IdentityReader | None = None

    @classmethod
    def from_gateway(cls, settings: Settings, gateway: ChainGateway) -> MarketContext:
        return cls(settings, gateway)

    @property
    def domain(self) -> Domain:
        if self._domain is None:
            self._domain = Domain(self.chain.chain_id, self.chain.contract("Exchange").address)
        return self._domain

    def is_verified(self, address: str) -> bool:
        """The identity registry's answer at the chain's head (a revoked or expired identity is
        not): read once per head block and address, so a revocation counts from its block on."""
        if self._identity is None:
            self._identity = IdentityReader(self.chain, per_block=True)
        return self._identity.is_verified(address)

    def now(self) -> int:
        return self.clock()
