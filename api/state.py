"""What one API process holds: settings, the database engine and the chain gateway."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.audit.indexer import IndexerThread
from api.chain.artifacts import ArtifactsMissing
from api.chain.deployments import DeploymentMissing
from api.chain.gateway import ChainGateway
from api.errors import DeploymentMismatch
from api.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # The audit indexer, when it runs inside this process (``indexer_enabled``).
    indexer: IndexerThread | None = None
    _chain: ChainGateway | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def chain_gateway(self) -> ChainGateway:
        """The gateway, connected on first use (and again after the node came back)."""
        with self._lock:
            if self._chain is None:
                try:
                    self._chain = ChainGateway.connect(self.settings, check=True)
                except (ArtifactsMissing, DeploymentMissing) as exc:
                    raise DeploymentMismatch(str(exc)) from exc
            return self._chain

    def forget_chain(self) -> None:
        """Drop the gateway so the next use reconnects and re-checks the deployment."""
        with self._lock:
            self._chain = None
