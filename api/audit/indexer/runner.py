"""The indexer inside the API process: a daemon thread that keeps following the chain, pausing
with a growing back-off while the node or the database is away, stopped cleanly on shutdown."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog
from sqlalchemy.orm import Session, sessionmaker

from api.audit.errors import IndexDeploymentChanged
from api.audit.indexer.loop import Indexer
from api.errors import ChainUnavailable, Problem
from api.settings import Settings

log = structlog.get_logger(__name__)


class IndexerThread:
    """The indexer as a daemon thread of the API process, stopped cleanly on shutdown."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        factory: Callable[[], Indexer] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self._factory = factory or (lambda: Indexer.from_settings(settings, sessions))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.caught_up = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="crda-indexer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        backoff = self.settings.indexer_poll_interval
        indexer: Indexer | None = None
        while not self._stop.is_set():
            try:
                if indexer is None:
                    indexer = self._factory()
                indexer.run(
                    stop=self._stop,
                    follow=True,
                    poll_interval=self.settings.indexer_poll_interval,
                    progress=lambda s: self.caught_up.set() if s.checkpoint else None,
                )
                backoff = self.settings.indexer_poll_interval
                self.last_error = None
            except Exception as exc:  # noqa: BLE001  (keep following; say why it paused)
                self.last_error = exc.detail if isinstance(exc, Problem) else repr(exc)
                log.warning("indexer_paused", error=self.last_error, retry_in=backoff)
                if isinstance(exc, IndexDeploymentChanged | ChainUnavailable):
                    indexer = None  # the deployment or node may have changed: reload
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
