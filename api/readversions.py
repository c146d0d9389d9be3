"""Read models a process may keep in memory, exact across processes: named versions that the
database bumps itself whenever a table they summarise changes.

A read that is costly and asked far more often than its data changes (the public order book)
is computed once and kept per process, with the version it was computed at. Every request
reads the version (one primary-key read) and serves the kept answer only while it is the same;
any other process's write moved it. The versions are bumped by database triggers (migration
``0730_read_models``) in the writing transaction itself, so no writer, present or future, can
forget, and a version moves exactly when a write that changes the answer commits:

- SQLite: ``AFTER INSERT/UPDATE OF .../DELETE`` row triggers (writers are serial anyway);
- PostgreSQL: deferred constraint triggers, which bump the version at commit, after every
  other lock the transaction took, so the version row never enters a lock-order cycle.

A version is read before the data it labels (see :meth:`VersionedCache.get`): on PostgreSQL
(read committed) a write committing in between makes the kept answer newer than its label,
never older, and the next read recomputes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import BigInteger, Engine, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from api.db import Base, HotRead

T = TypeVar("T")

# The versions the migrations create, with the table (and columns) whose writes move each.
MARKET_BOOK = "market.book"


class ReadVersion(Base):
    """How many committed writes changed what a read model summarises (bumped by triggers)."""

    __tablename__ = "read_versions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


_VERSION = HotRead(select(ReadVersion.version).where(ReadVersion.name == bindparam("name")))


def read_version(engine: Engine, name: str) -> int:
    """The version now (0 when the row is missing: a database migrated without it), read as
    committed when the call runs (a :class:`api.db.HotRead`: every request of a kept read
    asks it)."""
    rows = _VERSION.rows(engine, name=name)
    return int(rows[0][0] or 0) if rows else 0


@dataclass(frozen=True)
class Kept(Generic[T]):
    version: int
    # Unix seconds until which the value stays right with no write (time can change an
    # answer too: an order's expiry); None: no such limit.
    valid_until: int | None
    value: T


class VersionedCache(Generic[T]):
    """One value per process, recomputed when its version moved or its time ran out."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._kept: Kept[T] | None = None
        self._lock = threading.Lock()

    def get(
        self,
        sessions: sessionmaker[Session],
        now: int,
        compute: Callable[[Session, int], tuple[T, int | None]],
    ) -> T:
        """The value as of now: the kept one if still right, else ``compute(session, now)`` in
        a session of its own (which returns the value and until when it stays right without a
        write). A kept answer costs one read of the version and no session."""
        engine = sessions.kw["bind"]
        version = read_version(engine, self.name)  # first: see the module's docstring
        kept = self._kept
        if (
            kept is not None
            and kept.version == version
            and (kept.valid_until is None or now < kept.valid_until)
        ):
            return kept.value
        with sessions() as session:
            value, valid_until = compute(session, now)
        with self._lock:
            current = self._kept
            # Keep the newest: a slower request computed at an older version must not win.
            if current is None or version >= current.version:
                self._kept = Kept(version, valid_until, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._kept = None
