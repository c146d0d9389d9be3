"""Rate limits: per client address on unauthenticated routes, per account on signed-in ones.

The `limits` library (PyPI ``limits``) parses the limits ("20/minute;200/hour") and runs the
fixed-window strategy; its counters live, by default, in the platform's own database
(:class:`DatabaseStorage`), because that is the state every API process shares: one
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` per hit increments a key's counter, or
starts its window again once the old one expired, in one statement. PostgreSQL holds the row
lock and SQLite its write lock until the commit, so a burst released together gets exactly the
limit through, whatever process serves each request. ``CRDA_RATE_LIMIT_STORAGE_URL`` picks one
of the library's own storages instead: ``memory://`` (counts in one process only: with N
processes a client gets N times the limit) or ``redis://...`` (shared, no database write per
request). Expired counters are deleted by the storage itself, at most once a minute per process.

A fixed window lets a client spend up to twice a limit across a window's edge; the limits are
chosen so that even twice is harmless. A refused request is a 429 ``/problems/too-many-requests``
whose ``retry_after`` (and ``Retry-After`` header) says when the window that refused it ends.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable

from limits import RateLimitItem, RateLimitItemPerSecond, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import BigInteger, Float, String, case, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from api.db import Base, dialect_insert
from api.errors import problem
from api.settings import Settings

TooManyRequests = problem(
    429,
    "too-many-requests",
    "Too many requests; try again later",
    when=(
        "More requests than a rate limit allows (per client address on unauthenticated "
        "routes, per account on signed-in ones); `retry_after` (and the `Retry-After` header) "
        "says in how many seconds the limit's window ends, `limit` names it."
    ),
    show=(
        '"Too many requests, try again in N seconds"; retry once after `retry_after`, never '
        "in a loop (an app that follows the guides never meets it)."
    ),
)

# The named limits, each a ``rate_limit_<name>`` setting.
LIMIT_NAMES = (
    "public",
    "sign_in",
    "siwe_nonce",
    "certificate_verify",
    "certificate",
    "account",
)
DATABASE_STORAGE = "database"


class RateLimitCounter(Base):
    """One rate-limit key's count in its current window (``DatabaseStorage``)."""

    __tablename__ = "rate_limit_counters"

    # `limits`' key: the limit, its name and who it counts (a client address or an account).
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    # When the window ends, in seconds since the epoch (every process reads its own clock).
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class DatabaseStorage(Storage):
    """A `limits` storage over the platform's database: exact across processes.

    ``incr`` is one conditional upsert (see the module's docstring); the strategies of
    `limits` that need only ``incr``/``get``/``get_expiry`` (fixed window) run on it.
    """

    STORAGE_SCHEME = None  # built with the platform's sessions, never from a URI
    PRUNE_INTERVAL = 60.0

    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__()
        self._sessions = sessions
        self._clock = clock
        self._pruned_at = 0.0
        self._prune_lock = threading.Lock()

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self._clock()
        column = RateLimitCounter.__table__.c
        expired = column.expires_at <= now
        with self._sessions() as session:
            statement = (
                dialect_insert(session)(RateLimitCounter)
                .values(key=key, count=amount, expires_at=now + expiry)
                .on_conflict_do_update(
                    index_elements=[column.key],
                    set_={
                        "count": case((expired, amount), else_=column.count + amount),
                        "expires_at": case((expired, now + expiry), else_=column.expires_at),
                    },
                )
                .returning(column.count)
            )
            count = int(session.execute(statement).scalar_one())
            session.commit()
        self._prune(now)
        return count

    def get(self, key: str) -> int:
        with self._sessions() as session:
            count = session.scalar(
                select(RateLimitCounter.count).where(
                    RateLimitCounter.key == key, RateLimitCounter.expires_at > self._clock()
                )
            )
        return int(count or 0)

    def get_expiry(self, key: str) -> float:
        with self._sessions() as session:
            expires_at = session.scalar(
                select(RateLimitCounter.expires_at).where(RateLimitCounter.key == key)
            )
        now = self._clock()
        return max(float(expires_at or now), now)

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._sessions() as session:
            deleted = session.execute(delete(RateLimitCounter)).rowcount  # type: ignore[attr-defined]
            session.commit()
        return int(deleted)

    def clear(self, key: str) -> None:
        with self._sessions() as session:
            session.execute(delete(RateLimitCounter).where(RateLimitCounter.key == key))
            session.commit()

    def _prune(self, now: float) -> None:
        """Delete expired counters, at most once per interval per process (the table holds
        only live windows: a few rows per active client)."""
        with self._prune_lock:
            if now - self._pruned_at < self.PRUNE_INTERVAL:
                return
            self._pruned_at = now
        with self._sessions() as session:
            session.execute(delete(RateLimitCounter).where(RateLimitCounter.expires_at < now))
            session.commit()


def parse_limits(text: str) -> list[RateLimitItem]:
    """``"20/minute;200/hour"`` -> the items of `limits` (every one must hold)."""
    return parse_many(text)


class RateLimiter:
    """The process's limiter: the named limits of the settings over one storage."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = settings.rate_limits_enabled
        url = settings.rate_limit_storage_url
        storage = (
            DatabaseStorage(sessions, clock)
            if url == DATABASE_STORAGE
            else storage_from_string(url)
        )
        self._clock = clock
        self._strategy = FixedWindowRateLimiter(storage)
        self._limits = {
            name: parse_limits(getattr(settings, f"rate_limit_{name}")) for name in LIMIT_NAMES
        }
        # The cap on SIWE nonces a client holds: at most this many per nonce lifetime (so at
        # most twice as many unexpired at once; expired ones are deleted as new ones are made).
        self._limits["siwe_nonce"].append(
            RateLimitItemPerSecond(settings.siwe_nonce_max_per_client, settings.siwe_nonce_ttl)
        )

    def hit(self, name: str, who: str, items: list[RateLimitItem] | None = None) -> None:
        """Count one request of ``who`` against the limit ``name`` (its setting, or ``items``);
        raise :data:`TooManyRequests` when one of them is spent."""
        if not self.enabled:
            return
        for item in self._limits[name] if items is None else items:
            if not self._strategy.hit(item, name, who):
                ends = self._strategy.get_window_stats(item, name, who).reset_time
                raise TooManyRequests(
                    f"at most {item.amount} per {item.multiples} {item.GRANULARITY.name}"
                    + ("s" if item.multiples > 1 else ""),
                    limit=name,
                    retry_after=max(1, math.ceil(ends - self._clock())),
                )


def client_address(host: str | None) -> str:
    """Who a per-client limit counts: the peer's IP address (an IPv6 host by its /64, the
    block one subscriber gets). Behind a proxy, the server must be told to trust its
    ``X-Forwarded-For`` (uvicorn ``--forwarded-allow-ips``), or every client is the proxy."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
