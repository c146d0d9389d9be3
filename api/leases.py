"""One holder per background loop across processes: a lease row in the database per loop name.

The outbox worker (with the issuance batcher and the market ticker) and the audit indexer may
run in several processes at once (`crda worker` twice, API processes with embedded workers,
`crda index` beside them): each loop takes its lease before a round, and only the holder works;
the others stand by and take the lease over once the holder stopped renewing it (killed, or
cut off from the database) for ``ttl`` seconds, or at once when the holder ran on this host
and its process is gone (a worker restarted after a crash does not wait out the lease).

Taking or renewing is one conditional ``UPDATE ... WHERE holder = me OR expires_at < now``, so
it is exact on SQLite and PostgreSQL alike. Called inside a unit of work's own transaction
(:meth:`Lease.claim`), it also *fences* that work: the lease row stays locked until the work
commits (PostgreSQL's row lock, SQLite's single writer), so a holder whose lease was taken
over while it was paused cannot commit a step behind the new holder's back.

Expiry is read on the processes' clocks (UTC): hosts sharing a database must keep them in sync
(NTP) to well within ``ttl``.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import DateTime, String, or_, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from api.db import Base, insert_if_absent
from api.timeutil import utcnow

log = structlog.get_logger(__name__)

DEFAULT_TTL = 15.0
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class LoopLease(Base):
    """Who runs a background loop now, and until when unless renewed."""

    __tablename__ = "loop_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def holder_id() -> str:
    """This process: host and pid (the loops of one process share their leases)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def _gone(holder: str) -> bool:
    """Whether ``holder`` was a process of this host that no longer runs."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname()[:60] or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


class Lease:
    """The lease of one loop, as seen by one holder."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        name: str,
        *,
        ttl: float = DEFAULT_TTL,
        holder: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.name = name
        self.ttl = ttl
        self.holder = holder or holder_id()

    def claim(self, session: Session) -> bool:
        """Take or renew the lease in ``session``'s transaction; False while another holds it.

        The row stays locked until the transaction ends: run the fenced work in it.
        """
        for _ in range(2):
            now = utcnow()
            result = session.execute(
                update(LoopLease)
                .where(
                    LoopLease.name == self.name,
                    or_(LoopLease.holder == self.holder, LoopLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + timedelta(seconds=self.ttl))
                .execution_options(synchronize_session=False)
            )
            assert isinstance(result, CursorResult)
            if result.rowcount == 1:
                return True
            # No row yet (the loop's first run anywhere), or held by another.
            current = session.get(LoopLease, self.name)
            if current is None:
                insert_if_absent(session, LoopLease, name=self.name, holder="", expires_at=_NEVER)
                continue
            if _gone(current.holder):
                return self._take_over(session, current.holder)
            return False
        return False

    def _take_over(self, session: Session, dead: str) -> bool:
        result = session.execute(
            update(LoopLease)
            .where(LoopLease.name == self.name, LoopLease.holder == dead)
            .values(holder=self.holder, expires_at=utcnow() + timedelta(seconds=self.ttl))
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    def acquire(self) -> bool:
        """Take or renew the lease in a transaction of its own."""
        with self.sessions() as session, session.begin():
            return self.claim(session)

    def release(self) -> None:
        """Give the lease up at once (a clean stop): a standby takes over without waiting.
        Best effort: with the database gone (or never migrated) the lease simply expires."""
        try:
            with self.sessions() as session, session.begin():
                session.execute(
                    update(LoopLease)
                    .where(LoopLease.name == self.name, LoopLease.holder == self.holder)
                    .values(expires_at=_NEVER)
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError as exc:
            log.warning("lease_release_failed", lease=self.name, error=type(exc).__name__)


class LeaseLost(Exception):
    """Raised inside fenced work when another holder has the lease: the work rolls back."""
