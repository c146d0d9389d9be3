"""What one API process holds: settings, the database engine and the chain gateway."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.chain.artifacts import ArtifactsMissing
from api.chain.deployments import DeploymentMissing
from api.chain.gateway import ChainGateway
from api.errors import DeploymentMismatch
from api.ratelimit import RateLimiter
from api.settings import Settings

T = TypeVar("T")


class BackgroundTask(Protocol):
    """Work the process runs beside its requests (e.g. the audit indexer's thread)."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # The rate limits (api/ratelimit.py), counted where the settings say (the database).
    limiter: RateLimiter
    # The audit indexer, when it runs inside this process (``indexer_enabled``).
    indexer: BackgroundTask | None = None
    _chain: ChainGateway | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _contexts: dict[Any, tuple[ChainGateway, Any]] = field(default_factory=dict)

    def chain_gateway(self) -> ChainGateway:
        """The gateway, connected on first use (and again after the node came back)."""
        with self._lock:
            if self._chain is None:
                try:
                    # Nonces from the database: other processes may sign with the same keys.
                    self._chain = ChainGateway.connect(
                        self.settings, check=True, sessions=self.sessions
                    )
                except (ArtifactsMissing, DeploymentMissing) as exc:
                    raise DeploymentMismatch(str(exc)) from exc
            return self._chain

    def context(self, build: Callable[[Settings, ChainGateway], T]) -> T:
        """A domain's context (``XContext.from_gateway``), built once per process and gateway.

        The one way a domain gets what its services need besides the session (settings, the
        gateway, its EIP-712 domain, a cached identity reader); rebuilt after a reconnect.
        """
        gateway = self.chain_gateway()
        with self._lock:
            cached = self._contexts.get(build)
            if cached is None or cached[0] is not gateway:
                cached = self._contexts[build] = (gateway, build(self.settings, gateway))
            context: T = cached[1]
            return context

    def forget_chain(self) -> None:
        """Drop the gateway so the next use reconnects and re-checks the deployment."""
        with self._lock:
            self._chain = None
