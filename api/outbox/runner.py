"""Running the platform worker loop: in a thread of the API process or as `crda worker`
(composed by ``api.tasks.make_worker``)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from eth_account import Account
from eth_account.signers.local import LocalAccount

from api import metrics
from api.leases import Lease
from api.outbox.worker import OutboxWorker, PollingLoop
from api.settings import Settings


def platform_signers(settings: Settings) -> dict[str, LocalAccount]:
    """The platform's keys by role, from the environment (never from the database)."""
    return {
        "operator": Account.from_key(settings.operator_key.get_secret_value()),
        "issuer": Account.from_key(settings.issuer_key.get_secret_value()),
        "relayer": Account.from_key(settings.relayer_key.get_secret_value()),
    }


class PlatformWorker(PollingLoop):
    """One loop: the periodic tasks (e.g. the issuance batcher), then an outbox round.

    With a lease, the round runs only while this process holds it (renewed before each round,
    and by each outbox step): several `crda worker` processes are one worker and standbys.
    """

    def __init__(
        self, outbox: OutboxWorker, tasks: list[Callable[[], int]], lease: Lease | None = None
    ) -> None:
        self.outbox = outbox
        self.tasks = tasks
        self.lease = lease

    def release(self) -> None:
        if self.lease is not None:
            self.lease.release()

    def drain(self, max_rounds: int = 1000) -> None:
        """Finish what is open, then hand the lease on (a one-shot run leaves none behind)."""
        try:
            super().drain(max_rounds)
        finally:
            self.release()

    def run_once(self) -> int:
        if self.lease is not None and not self.lease.acquire():
            return 0  # another process works: stand by
        busy = 0
        for task in self.tasks:
            busy += task()
        busy += self.outbox.run_once()
        metrics.heartbeat("worker")
        return busy


class BackgroundWorker:
    """The worker on a daemon thread, stopped cleanly with the process."""

    def __init__(self, worker: PlatformWorker, interval: float) -> None:
        self._stop = threading.Event()
        self._worker = worker
        self._thread = threading.Thread(
            target=worker.run_forever, args=(self._stop, interval), name="outbox", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._worker.release()
