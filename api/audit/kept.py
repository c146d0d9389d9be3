"""The auditor's aggregates kept per process while the index's checkpoint is the same row.

The index's tables are written by the indexer alone, and every step that writes them moves the
checkpoint in the same transaction (its block and hash, or at least ``updated_at``; a rolled
back reorganisation also its ``reorgs``; a reset deletes it). So the checkpoint row, which each
of these reads reads anyway, is the version of everything derived from the index: an answer
computed at one checkpoint is right for as long as a request reads that same row, in any
process. No trigger is needed (a trigger per indexed row would tax the indexer for a version
the checkpoint already is).

An answer is kept as the JSON it is sent as, so its models are validated and serialised once
per checkpoint, not once per request. What also reads earning's tables (a claim's record, the
supply by credit class) is not kept: the checkpoint does not move with those.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.audit.queries import index_status
from api.audit.schemas import IndexStatus

# One store per database (tests run several apps, each on its own database, in one process):
# a name (``summary``, ``supply``) -> the checkpoint an answer was computed at, and the answer.
_stores: WeakKeyDictionary[Engine, dict[str, tuple[IndexStatus, bytes]]] = WeakKeyDictionary()
_lock = threading.Lock()


def _store(session: Session) -> dict[str, tuple[IndexStatus, bytes]]:
    engine = session.get_bind().engine
    with _lock:
        store = _stores.get(engine)
        if store is None:
            store = _stores[engine] = {}
        return store


def kept(session: Session, name: str, compute: Callable[[Session, IndexStatus], bytes]) -> bytes:
    """The answer ``name`` at the checkpoint read now: the kept one when it was computed at
    this very checkpoint row, else ``compute(session, checkpoint)`` in the same transaction
    (on SQLite one snapshot; on PostgreSQL a step committing meanwhile makes the answer newer
    than its label, and the next request, which reads the newer checkpoint, recomputes)."""
    status = index_status(session)  # raises IndexNotStarted before the first step
    store = _store(session)
    found = store.get(name)
    if found is not None and found[0] == status:
        return found[1]
    body = compute(session, status)
    with _lock:
        store[name] = (status, body)
    return body
