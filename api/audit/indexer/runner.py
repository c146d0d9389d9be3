"""The indexer inside the API process: a task of the shared polling loop (one step a round),
on a daemon thread, pausing with a growing back-off while the node or the database is away,
stopped cleanly on shutdown. ``crda index`` runs :meth:`Indexer.run` in the foreground."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog
from sqlalchemy.orm import Session, sessionmaker

from api.audit.errors import IndexDeploymentChanged
from api.audit.indexer.loop import Indexer
from api.audit.indexer.reader import ChainMoved
from api.errors import ChainUnavailable, Problem
from api.outbox.worker import PollingLoop
from api.settings import Settings

log = structlog.get_logger(__name__)


class IndexerLoop(PollingLoop):
    """One indexer step per round: busy while blocks are left below ``head - confirmations``,
    resting between rounds once caught up (``PollingLoop.run_forever``)."""

    unavailable_event = "indexer_paused"

    def __init__(
        self, settings: Settings, factory: Callable[[], Indexer], stop: threading.Event
    ) -> None:
        self.settings = settings
        self._factory = factory
        self._stop = stop
        self._indexer: Indexer | None = None
        self._backoff = settings.indexer_poll_interval
        self.last_error: str | None = None
        self.caught_up = threading.Event()

    def run_once(self) -> int:
        try:
            if self._indexer is None:
                self._indexer = self._factory()
            result = self._indexer.step()
        except ChainMoved:
            return 1  # the head moved under the read: read again at once
        except Exception as exc:  # noqa: BLE001  (keep following; say why it paused)
            self.last_error = exc.detail if isinstance(exc, Problem) else repr(exc)
            log.warning("indexer_paused", error=self.last_error, retry_in=self._backoff)
            if isinstance(exc, IndexDeploymentChanged | ChainUnavailable):
                self._indexer = None  # the deployment or node may have changed: reload
            self._stop.wait(self._backoff)
            self._backoff = min(self._backoff * 2, 30.0)
            return 0
        self._backoff = self.settings.indexer_poll_interval
        self.last_error = None
        if result.to_block:
            self.caught_up.set()
        return 0 if result.caught_up else 1


class IndexerThread:
    """The indexer's polling loop as a daemon thread of the API process."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        factory: Callable[[], Indexer] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self._stop = threading.Event()
        self.loop = IndexerLoop(
            settings,
            factory or (lambda: Indexer.from_settings(settings, sessions, leased=True)),
            self._stop,
        )
        self._thread: threading.Thread | None = None

    @property
    def last_error(self) -> str | None:
        return self.loop.last_error

    @property
    def caught_up(self) -> threading.Event:
        return self.loop.caught_up

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.loop.run_forever,
            args=(self._stop, self.settings.indexer_poll_interval),
            name="crda-indexer",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            indexer = self.loop._indexer
            if not self._thread.is_alive() and indexer is not None and indexer.lease is not None:
                indexer.lease.release()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
