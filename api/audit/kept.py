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
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from api.audit.errors import IndexNotStarted
from api.audit.models import Checkpoint
from api.audit.queries import index_status
from api.audit.schemas import IndexStatus
from api.db import HotRead

# The checkpoint row as the driver gives it: what an answer was computed at.
_CHECKPOINT = HotRead(select(*Checkpoint.__table__.columns))
# One store per database (tests run several apps, each on its own database, in one process):
# a name (``summary``, ``supply``) -> the checkpoint row an answer was computed at, and it.
_stores: WeakKeyDictionary[Engine, dict[str, tuple[tuple[Any, ...], bytes]]] = WeakKeyDictionary()
_lock = threading.Lock()


def _store(engine: Engine) -> dict[str, tuple[tuple[Any, ...], bytes]]:
    with _lock:
        store = _stores.get(engine)
        if store is None:
            store = _stores[engine] = {}
        return store


def kept(
    sessions: sessionmaker[Session],
    name: str,
    compute: Callable[[Session, IndexStatus], bytes],
) -> bytes:
    """The answer ``name`` at the checkpoint read now: the kept one when it was computed at
    this very checkpoint row, else ``compute(session, checkpoint)`` in a session of its own.
    The row is read first, then the answer computed: a step committing in between makes the
    answer newer than its label, never older, and the next request, which reads the newer
    row, computes again. A kept answer costs one read of the row and no session."""
    engine: Engine = sessions.kw["bind"]
    rows = _CHECKPOINT.rows(engine)
    if not rows:
        raise IndexNotStarted()
    row = tuple(rows)
    store = _store(engine)
    found = store.get(name)
    if found is not None and found[0] == row:
        return found[1]
    with sessions() as session:
        body = compute(session, index_status(session))
    with _lock:
        store[name] = (row, body)
    return body
