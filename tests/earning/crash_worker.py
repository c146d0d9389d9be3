"""A worker process that SIGKILLs itself at one chosen step (crash tests only).

``python -m tests.earning.crash_worker <step>`` runs the real platform worker (batcher + outbox,
configured from the ``CRDA_`` environment like ``crda worker``) and kills its own process with
SIGKILL, no cleanup, no flush, at:

- ``after-batch``: the batch and its outbox row are committed, nothing is signed;
- ``before-send``: the signed transaction is stored, not yet broadcast;
- ``after-send``: the transaction is broadcast, its receipt not yet looked for;
- ``before-receipt-recorded``: the transaction is mined and the claims are being marked issued,
  inside the database transaction that never commits.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

from api.chain.gateway import ChainGateway
from api.db import make_engine, make_session_factory
from api.earning import issuance
from api.settings import Settings
from api.tasks import make_worker

STEPS = ("after-batch", "before-send", "after-send", "before-receipt-recorded")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(step: str) -> None:
    if step not in STEPS:
        raise SystemExit(f"step must be one of {STEPS}")
    settings = Settings()
    gateway = ChainGateway.connect(settings)

    if step == "after-batch":
        original_form = issuance.form_batch

        def form_then_die(*args: Any, **kwargs: Any) -> Any:
            batch = original_form(*args, **kwargs)
            if batch is not None:
                die()
            return batch

        issuance.form_batch = form_then_die  # type: ignore[assignment]
    elif step in ("before-send", "after-send"):
        original_broadcast = gateway.broadcast

        def broadcast(signed: Any) -> None:
            if step == "before-send":
                die()
            original_broadcast(signed)
            die()

        gateway.broadcast = broadcast  # type: ignore[method-assign]
    else:
        original_confirmed = issuance.IssuanceBatchHandler.on_confirmed

        def confirmed_then_die(self: Any, *args: Any, **kwargs: Any) -> None:
            original_confirmed(self, *args, **kwargs)
            die()

        issuance.IssuanceBatchHandler.on_confirmed = confirmed_then_die  # type: ignore[method-assign]

    engine = make_engine(settings.database_url)
    worker = make_worker(settings, make_session_factory(engine), gateway)
    worker.run_forever(threading.Event(), settings.worker_interval)


if __name__ == "__main__":
    main(sys.argv[1])
